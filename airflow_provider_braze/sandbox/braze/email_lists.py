"""Global email state: subscription state per address, hard bounces, spam reports and the blocklist.

Braze keeps these per email address, not per profile: ``/email/status`` works for an address that is
on no profile yet and is applied when a profile later gets it
(https://www.braze.com/docs/api/endpoints/email/post_email_subscription_status/). Addresses are matched
case-insensitively (see :func:`~airflow_provider_braze.sandbox.braze.profile.norm_email`). The owning
store's lock guards every call.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from airflow_provider_braze.sandbox.braze.profile import norm_email


@dataclass
class EmailEntry:
    """What Braze knows about one address.

    :param email: the address as last written.
    :param state: ``subscribed`` / ``unsubscribed`` / ``opted_in``, or ``None`` when never set.
    :param state_changed_at: epoch seconds of the last state change.
    :param hard_bounced_at: epoch seconds, ``None`` when not on the hard-bounce list.
    :param spam_at: epoch seconds, ``None`` when not on the spam list.
    :param blocklisted_at: epoch seconds, ``None`` when not blocklisted.
    """

    email: str
    state: str | None = None
    state_changed_at: float | None = None
    hard_bounced_at: float | None = None
    spam_at: float | None = None
    blocklisted_at: float | None = None

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class EmailLists:
    """All addresses Braze has a global state for, keyed by the normalised address."""

    entries: dict[str, EmailEntry] = field(default_factory=dict)

    def entry(self, email: str) -> EmailEntry:
        key = norm_email(email)
        found = self.entries.get(key)
        if found is None:
            found = self.entries[key] = EmailEntry(email=email.strip())
        return found

    def get(self, email: str) -> EmailEntry | None:
        return self.entries.get(norm_email(email))

    def set_state(self, email: str, state: str, now: float) -> None:
        """Record a global subscription state; an unchanged state keeps its original time."""
        entry = self.entry(email)
        if entry.state != state:
            entry.state, entry.state_changed_at = state, now

    def blocklist(self, email: str, now: float) -> None:
        """Unsubscribe and mark hard-bounced, as ``/email/blocklist`` does (https://www.braze.com/docs/api/endpoints/email/)."""
        self.set_state(email, "unsubscribed", now)
        entry = self.entry(email)
        entry.hard_bounced_at = entry.hard_bounced_at or now
        entry.blocklisted_at = entry.blocklisted_at or now

    def mark_hard_bounced(self, email: str, now: float) -> None:
        self.entry(email).hard_bounced_at = now

    def mark_spam(self, email: str, now: float) -> None:
        self.entry(email).spam_at = now

    def remove_bounce(self, email: str) -> bool:
        """Take the address off the hard-bounce list (and the blocklist, whose bounce it was)."""
        entry = self.get(email)
        if entry is None or entry.hard_bounced_at is None:
            return False
        entry.hard_bounced_at = None
        entry.blocklisted_at = None
        return True

    def remove_spam(self, email: str) -> bool:
        entry = self.get(email)
        if entry is None or entry.spam_at is None:
            return False
        entry.spam_at = None
        return True

    def with_state(self, state: str) -> list[EmailEntry]:
        return [e for e in self.entries.values() if e.state == state]

    def hard_bounced(self) -> list[EmailEntry]:
        return [e for e in self.entries.values() if e.hard_bounced_at is not None]
