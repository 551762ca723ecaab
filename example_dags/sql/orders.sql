-- Orders placed in this run's data interval, as Braze purchases.
select external_id, product_id, currency, price, quantity, time
from orders
where time >= '{{ data_interval_start.isoformat() }}'
  and time <  '{{ data_interval_end.isoformat() }}'
order by time
