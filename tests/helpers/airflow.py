"""Stand-ins for what Airflow hands a task: its context, and running an operator without a scheduler."""

from __future__ import annotations

from typing import Any


class FakeTaskInstance:
    """Stands in for ``context["ti"]``: keeps what the task pushed to XCom."""

    def __init__(self) -> None:
        self.xcom: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcom[key] = value

    def get_first_reschedule_date(self, context: Any) -> None:
        return None


def run(operator):
    """Execute an operator the way the task runner would, without a scheduler."""
    return operator.execute(context={})
