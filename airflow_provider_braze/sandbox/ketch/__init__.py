"""A local emulator of Ketch: the webhooks it sends to the provider, its Web API and its DSR callbacks.

Layout:

- ``webhooks``: forwarder bodies built from the provider's protocol models (valid by construction);
- ``delivery``: sends them with Ketch's bearer token and 3 tries, and records each :class:`Delivery`;
- ``identities``: made-up data subjects (email, external id, E.164 phone; raw or hashed);
- ``streams``: random or scripted preference-change streams (shuffled, with redeliveries) and the
  end state they must lead to;
- ``sending``: the ``send_*``/stream/``deliver`` methods of the sandbox;
- ``preferences``: what Ketch knows per subject; ``web_api_routes`` serves it under ``/web/v2``;
- ``callback_recorder``: records rights request status events; ``inspection``: ``/_sandbox/*``;
- ``app``: the FastAPI app; ``server``: uvicorn in a background thread on 127.0.0.1;
- ``sandbox``: :class:`KetchSandbox`, which ties them together; ``cli``: the ``ketch-sandbox`` command.
"""

from __future__ import annotations

from airflow_provider_braze.sandbox.ketch.callback_recorder import RecordedCallback
from airflow_provider_braze.sandbox.ketch.delivery import Delivery, DeliveryReport, DeliveryRetry
from airflow_provider_braze.sandbox.ketch.identities import make_identities
from airflow_provider_braze.sandbox.ketch.sandbox import KetchSandbox
from airflow_provider_braze.sandbox.ketch.server import UvicornThread
from airflow_provider_braze.sandbox.ketch.streams import PlannedDelivery, PreferenceChange, PreferenceStream

__all__ = [
    "Delivery",
    "DeliveryReport",
    "DeliveryRetry",
    "KetchSandbox",
    "PlannedDelivery",
    "PreferenceChange",
    "PreferenceStream",
    "RecordedCallback",
    "UvicornThread",
    "make_identities",
]
