"""New alias, identify and delete operators, and the Treasure Data form, against the sandbox."""

from __future__ import annotations

import pytest

from airflow_provider_braze.operators import (
    BrazeDeleteUsersOperator,
    BrazeExportOperator,
    BrazeIdentifyUsersOperator,
    BrazeNewAliasOperator,
    BrazeTrackUsersOperator,
)
from tests.helpers.airflow import run


def test_new_alias_creates_alias_only_users_and_adds_aliases_to_known_users(sandbox, braze_conn):
    run(BrazeTrackUsersOperator(task_id="seed", records=[{"external_id": "known", "plan": "pro"}]))
    summary = run(
        BrazeNewAliasOperator(
            task_id="t",
            records=[
                {"alias_name": "anon-1", "alias_label": "crm_id"},
                {"alias_name": "anon-2", "alias_label": "crm_id"},
                {"alias_name": "k-1", "alias_label": "crm_id", "external_id": "known"},
            ],
        )
    )
    assert summary["accepted"] == 3 and summary["data_points"] == 0
    assert sandbox.store.find_user(alias=("anon-1", "crm_id")).external_id is None
    assert sandbox.store.find_user(alias=("k-1", "crm_id")).external_id == "known"
    assert len(sandbox.store.users()) == 3


def test_identify_merges_alias_only_users_into_identified_ones(sandbox, braze_conn):
    run(BrazeNewAliasOperator(task_id="a", records=[{"alias_name": "anon-1", "alias_label": "crm_id"}]))
    run(
        BrazeTrackUsersOperator(
            task_id="b",
            records=[
                {
                    "user_alias_name": "anon-1",
                    "user_alias_label": "crm_id",
                    "_update_existing_only": "true",
                    "color": "red",
                }
            ],
        )
    )
    run(
        BrazeIdentifyUsersOperator(
            task_id="t", records=[{"external_id": "ident-1", "alias_name": "anon-1", "alias_label": "crm_id"}]
        )
    )
    (user,) = sandbox.store.users()
    assert user.external_id == "ident-1" and user.custom_attributes == {"color": "red"}


def test_identify_by_email_with_prioritization(sandbox, braze_conn):
    run(BrazeTrackUsersOperator(task_id="a", records=[{"email": "ada@example.com", "plan": "free"}]))
    run(
        BrazeIdentifyUsersOperator(
            task_id="t",
            records=[{"external_id": "ada", "email": "ada@example.com"}],
            prioritization=["unidentified"],
        )
    )
    (user,) = sandbox.store.users()
    assert user.external_id == "ada" and user.email == "ada@example.com"


def test_delete_removes_users_by_each_identifier_type(sandbox, braze_conn):
    run(
        BrazeTrackUsersOperator(
            task_id="a",
            records=[
                {"external_id": "x1", "plan": "a"},
                {"external_id": "x2", "plan": "b"},
                {"email": "gone@example.com", "plan": "c"},
                {"external_id": "keep", "plan": "d"},
            ],
        )
    )
    run(BrazeNewAliasOperator(task_id="b", records=[{"alias_name": "al", "alias_label": "lbl"}]))
    summary = run(
        BrazeDeleteUsersOperator(
            task_id="t",
            records=[
                {"external_id": "x1"},
                {"email": "gone@example.com"},
                {"alias_name": "al", "alias_label": "lbl"},
                {"external_id": "x2"},
            ],
        )
    )
    assert [u.external_id for u in sandbox.store.users()] == ["keep"]
    # One identifier type per request: external ids, emails, aliases.
    assert summary["requests"] == 3 and summary["accepted"] == 4


def test_treasure_data_settings_run_unchanged(sandbox, braze_conn):
    summary = run(
        BrazeExportOperator(
            task_id="t",
            mode="User - Track",
            track_record_type="Custom Events",
            pre_formated_fields="properties",
            skip_on_invalid_records=True,
            records=[{"external_id": "u1", "name": "opened", "time": "2026-11-01T00:00:00Z", "properties": '{"n": 1}'}],
        )
    )
    assert summary["accepted"] == 1
    (event,) = sandbox.store.events(name="opened")
    assert event["properties"] == {"n": 1}


@pytest.mark.parametrize(
    ("mode", "records", "check"),
    [
        ("User - New Alias", [{"alias_name": "n", "alias_label": "l"}], lambda s: s.store.find_user(alias=("n", "l"))),
        ("User - Identifying", [{"external_id": "e", "alias_name": "n", "alias_label": "l"}], lambda s: True),
        ("User - Delete", [{"external_id": "nobody"}], lambda s: True),
        ("new_alias", [{"alias_name": "m", "alias_label": "l"}], lambda s: s.store.find_user(alias=("m", "l"))),
    ],
)
def test_every_treasure_data_mode_spelling_is_accepted(sandbox, braze_conn, mode, records, check):
    assert run(BrazeExportOperator(task_id="t", mode=mode, records=records))["accepted"] == len(records)
    assert check(sandbox)


def test_track_mode_without_record_type_names_the_td_parameter(sandbox, braze_conn):
    with pytest.raises(ValueError, match="needs track_record_type"):
        run(BrazeExportOperator(task_id="t", mode="User - Track", records=[]))


def test_options_that_do_not_apply_to_the_mode_are_refused(sandbox, braze_conn):
    with pytest.raises(ValueError, match="prioritization do not apply"):
        run(BrazeExportOperator(task_id="t", mode="User - New Alias", prioritization=["identified"], records=[]))


def test_both_spellings_of_pre_formatted_fields_are_refused_together():
    with pytest.raises(ValueError, match="not both"):
        BrazeExportOperator(task_id="t", mode="track", pre_formated_fields="a", pre_formatted_fields="a")
