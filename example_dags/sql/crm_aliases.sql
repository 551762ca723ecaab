-- Leads from the CRM, known by their CRM id before they sign up.
select alias_name, alias_label, external_id
from crm_aliases
where created_at >= '{{ data_interval_start.isoformat() }}'
  and created_at <  '{{ data_interval_end.isoformat() }}'
