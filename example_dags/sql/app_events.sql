-- App events that happened in this run's data interval.
select external_id, name, time, properties, app_id
from app_events
where time >= '{{ data_interval_start.isoformat() }}'
  and time <  '{{ data_interval_end.isoformat() }}'
order by time
