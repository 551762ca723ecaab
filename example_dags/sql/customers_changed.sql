-- Customers whose row changed in this run's data interval: their attributes go to Braze.
-- tags and address hold JSON text; the operator sends them as an array and a nested object.
select external_id, email, first_name, last_name, plan, lifetime_value, country, dob, tags, address
from customers
where updated_at >= '{{ data_interval_start.isoformat() }}'
  and updated_at <  '{{ data_interval_end.isoformat() }}'
order by updated_at
