-- Leads who signed up: merge the alias-only profile into the identified user.
select external_id, alias_name, alias_label
from identifications
where identified_at >= '{{ data_interval_start.isoformat() }}'
  and identified_at <  '{{ data_interval_end.isoformat() }}'
