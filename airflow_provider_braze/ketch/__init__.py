"""Ketch, without Airflow: the webhook ("forwarder") protocol models, the normalised event form and
the webhook receiver.

- :mod:`.models`: Pydantic models of every message and :func:`parse_request`.
- :mod:`.events`: :func:`normalise`, the one stored form (:class:`KetchEvent`) of every request.
- :mod:`.receiver`: the FastAPI app that checks, validates and stores webhooks (imports FastAPI).
- :mod:`.receiver_cli`: ``ketch-receiver``, the app served standalone by uvicorn.

Events are kept by :mod:`airflow_provider_braze.state`.
"""

from airflow_provider_braze.ketch.events import KetchEvent, normalise
from airflow_provider_braze.ketch.models import KetchValidationError, parse_request

__all__ = ["KetchEvent", "KetchValidationError", "normalise", "parse_request"]
