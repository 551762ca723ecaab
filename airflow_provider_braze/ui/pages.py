"""The sync history's HTML pages, rendered with Jinja2 (shipped with Airflow) from ``templates/``.

Autoescaping is on for every template: sync keys, run ids, column names and reasons come from the
ledger, and a reason may quote a row's values, which anyone could have put in the warehouse. Only
the charts are inserted as they are, and :mod:`.charts` escapes their text itself.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, select_autoescape

from airflow_provider_braze.state.sync_history import Problem, Run, Sync
from airflow_provider_braze.ui import charts
from airflow_provider_braze.ui.figures import MISSING, duration, figures, health, number

#: What each problem status is called on the page.
OUTCOME_LABELS = {
    "invalid": "refused: invalid",
    "rejected": "refused by Braze",
    "failed": "failed (request)",
    "unknown": "unknown outcome",
}


def when(seconds: float | None) -> str:
    """A ledger time (unix seconds) as UTC text."""
    if seconds is None:
        return MISSING
    return datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def urlpath(text: str) -> str:
    """A sync key as one path segment (a key may hold ``/``, ``?`` or ``#``)."""
    return quote(text, safe="")


@functools.cache
def environment() -> Environment:
    """The templates' environment, built at the first page."""
    env = Environment(
        loader=PackageLoader("airflow_provider_braze.ui", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        number=number,
        duration=duration,
        when=when,
        urlpath=urlpath,
        outcome=lambda status: OUTCOME_LABELS.get(status, status),
    )
    return env


def _why(sync: Sync) -> str:
    """Why a sync is not healthy, in a few words."""
    if sync.last is None or sync.last.status != "success":
        return ""
    f = figures(sync.last)
    parts = [
        f"{number(n)} {word}" for n, word in ((f.refused, "refused"), (f.failed, "failed"), (f.unknown, "unknown")) if n
    ]
    return ", ".join(parts)


def syncs_page(syncs: Sequence[Sync], *, root: str, store: str) -> str:
    """The list of every sync.

    :param syncs: the ledger's syncs.
    :param root: the path the app is mounted at (``/braze``), for links.
    :param store: which state store, in words (never its URL: it may hold a password).
    """
    rows = [{"sync": s, "health": health(s.last), "why": _why(s)} for s in syncs]
    return environment().get_template("syncs.html").render(syncs=rows, root=root, store=store)


def sync_page(sync: Sync, runs: Sequence[Run], *, root: str) -> str:
    """One sync: its runs, newest first, with their figures and two charts.

    :param sync: the sync.
    :param runs: its runs, newest first.
    :param root: the path the app is mounted at.
    """
    return (
        environment()
        .get_template("sync.html")
        .render(
            sync=sync,
            runs=[{"run": run, "f": figures(run)} for run in runs],
            health=health(sync.last),
            throughput=charts.throughput_chart(runs) if runs else "",
            outcomes=charts.outcomes_chart(runs) if runs else "",
            legend=charts.OUTCOMES,
            root=root,
        )
    )


def run_page(sync: Sync, run: Run, problems: Sequence[Problem], **context: Any) -> str:
    """One run: its figures and its rows at fault (reasons already masked unless revealed).

    :param sync: the run's sync.
    :param run: the run.
    :param problems: the rows shown.
    :param context: ``root``, ``identifier`` (the search, ``None`` for none), ``reveal``, ``page``,
        ``page_size``, ``total``, ``more`` and ``csv_url``.
    """
    return (
        environment().get_template("run.html").render(sync=sync, run=run, f=figures(run), problems=problems, **context)
    )


def message_page(title: str, text: str, *, link: tuple[str, str] | None = None) -> str:
    """A short page for "not found" and "log in first".

    :param link: ``(href, label)`` of a way on, if any.
    """
    template = environment().from_string(
        '{% extends "base.html" %}{% block title %}{{ title }}{% endblock %}{% block body %}'
        '<h1>{{ title }}</h1><p>{{ text }}</p>{% if link %}<p><a href="{{ link[0] }}">{{ link[1] }}</a></p>{% endif %}'
        "{% endblock %}"
    )
    return template.render(title=title, text=text, link=link)
