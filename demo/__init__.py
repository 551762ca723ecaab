"""`make demo`: start the local sandboxes, run every example DAG with `airflow dags test`, report."""
