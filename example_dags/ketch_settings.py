"""Settings the Ketch example DAGs share: how Ketch's topics and identities map onto Braze.

Replace the ids with your subscription groups' ids (Braze: Audience > Subscriptions).
"""

from __future__ import annotations

#: Ketch topic -> contact method -> Braze subscription_group_id.
SUBSCRIPTION_GROUPS = {
    "newsletter": {"email": "5d2f6c1e-7a2b-4c1d-9e3f-0a1b2c3d4e01", "sms": "5d2f6c1e-7a2b-4c1d-9e3f-0a1b2c3d4e02"},
    "offers": {"email": "5d2f6c1e-7a2b-4c1d-9e3f-0a1b2c3d4e03"},
}
#: Ketch identity space -> the Braze identifier it is.
IDENTITY_SPACES = {"email": "emails", "phone": "phones", "account_id": "external_ids"}
