-- Erasure requests received in this run's data interval.
select external_id
from deletions
where requested_at >= '{{ data_interval_start.isoformat() }}'
  and requested_at <  '{{ data_interval_end.isoformat() }}'
