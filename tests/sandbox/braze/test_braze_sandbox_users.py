"""Aliases, identify, delete and export in the sandbox."""

from __future__ import annotations

import pytest

from airflow_provider_braze.sandbox.braze import BrazeSandbox

TOO_MANY = "The max number of external_ids and aliases per request was exceeded"


def alias(name: str, label: str = "crm") -> dict:
    return {"alias_name": name, "alias_label": label}


# --- /users/alias/new ---------------------------------------------------------------------------------


def test_alias_new_without_external_id_creates_an_alias_only_profile(braze_sandbox, braze):
    response = braze.post("/users/alias/new", {"user_aliases": [alias("a1")]})
    assert response.status_code == 201
    assert response.json() == {"message": "success", "aliases_processed": 1}
    assert braze_sandbox.store.find_user(alias=("a1", "crm")).external_id is None


def test_alias_new_with_external_id_adds_the_alias_to_that_profile(braze_sandbox, braze):
    braze.track(attributes=[{"external_id": "u"}])
    braze.post("/users/alias/new", {"user_aliases": [{"external_id": "u", **alias("a1")}]})
    assert braze_sandbox.store.find_user(external_id="u").aliases == {"crm": "a1"}


def test_alias_new_for_unknown_external_id_adds_it_to_no_one(braze_sandbox, braze):
    response = braze.post("/users/alias/new", {"user_aliases": [{"external_id": "ghost", **alias("a1")}]})
    assert response.status_code == 201 and braze_sandbox.store.users() == []


def test_alias_new_refuses_a_second_name_for_the_same_label(braze_sandbox, braze):
    braze.track(attributes=[{"external_id": "u"}])
    braze.post("/users/alias/new", {"user_aliases": [{"external_id": "u", **alias("a1")}]})
    response = braze.post("/users/alias/new", {"user_aliases": [{"external_id": "u", **alias("a2")}]})
    assert response.json()["errors"][0]["input_array"] == "user_aliases"
    assert braze_sandbox.store.find_user(external_id="u").aliases == {"crm": "a1"}


def test_alias_new_with_51_aliases_is_400_and_nothing_applied(braze_sandbox, braze):
    response = braze.post("/users/alias/new", {"user_aliases": [alias(f"a{i}") for i in range(51)]})
    assert (response.status_code, response.json()["message"]) == (400, TOO_MANY)
    assert braze_sandbox.store.users() == []


def test_alias_new_reports_a_malformed_item_and_applies_the_rest(braze_sandbox, braze):
    response = braze.post("/users/alias/new", {"user_aliases": [{"alias_name": "x"}, alias("ok")]})
    assert [(e["input_array"], e["index"]) for e in response.json()["errors"]] == [("user_aliases", 0)]
    assert braze_sandbox.store.find_user(alias=("ok", "crm")) is not None


# --- /users/alias/update ------------------------------------------------------------------------------


def test_alias_update_renames_the_alias(braze_sandbox, braze):
    braze.post("/users/alias/new", {"user_aliases": [alias("old")]})
    response = braze.post(
        "/users/alias/update",
        {"alias_updates": [{"alias_label": "crm", "old_alias_name": "old", "new_alias_name": "new"}]},
    )
    assert response.status_code == 201
    assert braze_sandbox.store.find_user(alias=("new", "crm")) is not None
    assert braze_sandbox.store.find_user(alias=("old", "crm")) is None


def test_alias_update_of_an_unknown_alias_changes_nothing(braze_sandbox, braze):
    response = braze.post(
        "/users/alias/update",
        {"alias_updates": [{"alias_label": "crm", "old_alias_name": "nobody", "new_alias_name": "new"}]},
    )
    assert response.json() == {"message": "success"} and braze_sandbox.store.users() == []


# --- /users/identify ----------------------------------------------------------------------------------


def test_identify_merges_the_alias_profile_into_the_external_id_profile(braze_sandbox, braze):
    braze.track(attributes=[{"external_id": "u", "first_name": "Known", "a": 1}])
    braze.track(attributes=[{"user_alias": alias("anon"), "_update_existing_only": False, "a": 9, "b": 2}])
    braze.track(events=[{"user_alias": alias("anon"), "name": "visited", "time": "2024-01-01T00:00:00Z"}])
    response = braze.post(
        "/users/identify", {"aliases_to_identify": [{"external_id": "u", "user_alias": alias("anon")}]}
    )
    assert response.json() == {"message": "success", "aliases_processed": 1}
    user = braze_sandbox.store.find_user(external_id="u")
    assert user.custom_attributes == {"a": 1, "b": 2}
    assert user.aliases == {"crm": "anon"}
    assert [e["name"] for e in braze_sandbox.store.events(external_id="u")] == ["visited"]
    assert len(braze_sandbox.store.users()) == 1


def test_identify_with_unknown_external_id_adds_it_to_the_alias_profile(braze_sandbox, braze):
    braze.post("/users/alias/new", {"user_aliases": [alias("anon")]})
    braze.post("/users/identify", {"aliases_to_identify": [{"external_id": "fresh", "user_alias": alias("anon")}]})
    user = braze_sandbox.store.find_user(external_id="fresh")
    assert user.aliases == {"crm": "anon"}
    assert len(braze_sandbox.store.users()) == 1


def test_identify_does_not_combine_when_target_has_an_alias_with_that_label(braze_sandbox, braze):
    braze.track(attributes=[{"external_id": "u"}])
    braze.post("/users/alias/new", {"user_aliases": [{"external_id": "u", **alias("mine")}, alias("anon")]})
    braze.post("/users/identify", {"aliases_to_identify": [{"external_id": "u", "user_alias": alias("anon")}]})
    assert len(braze_sandbox.store.users()) == 2
    assert braze_sandbox.store.merges()[-1]["outcome"] == "not_combined_label_conflict"


def test_identify_by_email_with_prioritization_merges_the_unidentified_profile(braze_sandbox, braze):
    braze.track(attributes=[{"external_id": "u"}])
    braze.track(attributes=[{"email": "e@x.io", "city_pref": "Bonn"}])
    response = braze.post(
        "/users/identify",
        {
            "emails_to_identify": [
                {"external_id": "u", "email": "e@x.io", "prioritization": ["unidentified", "most_recently_updated"]}
            ]
        },
    )
    assert response.status_code == 201
    user = braze_sandbox.store.find_user(external_id="u")
    assert (user.email, user.custom_attributes) == ("e@x.io", {"city_pref": "Bonn"})
    assert len(braze_sandbox.store.users()) == 1


def test_identify_by_email_without_prioritization_is_an_item_error(braze_sandbox, braze):
    response = braze.post("/users/identify", {"emails_to_identify": [{"external_id": "u", "email": "e@x.io"}]})
    assert response.json()["errors"] == [
        {"type": response.json()["errors"][0]["type"], "input_array": "emails_to_identify", "index": 0}
    ]


def test_identify_mixing_aliases_and_emails_is_400(braze):
    response = braze.post(
        "/users/identify",
        {
            "aliases_to_identify": [{"external_id": "u", "user_alias": alias("a")}],
            "emails_to_identify": [{"external_id": "u", "email": "e@x.io", "prioritization": ["unidentified"]}],
        },
    )
    assert response.status_code == 400


# --- /users/delete ------------------------------------------------------------------------------------


def test_delete_by_external_ids_removes_profiles_and_reports_the_count(braze_sandbox, braze):
    braze.track(
        attributes=[{"external_id": "a"}, {"external_id": "b"}, {"external_id": "keep"}],
        events=[{"external_id": "a", "name": "n", "time": "2024-01-01T00:00:00Z"}],
    )
    response = braze.post("/users/delete", {"external_ids": ["a", "b"]})
    assert (response.status_code, response.json()) == (201, {"message": "success", "deleted": 2})
    assert [u.external_id for u in braze_sandbox.store.users()] == ["keep"]
    assert braze_sandbox.store.events() == []
    assert {"a", "b"} <= braze_sandbox.store.deleted_ids()


def test_delete_with_two_identifier_types_is_400_and_nothing_deleted(braze_sandbox, braze):
    braze.track(attributes=[{"external_id": "a"}])
    response = braze.post("/users/delete", {"external_ids": ["a"], "braze_ids": ["x"]})
    assert response.status_code == 400
    assert braze_sandbox.store.find_user(external_id="a") is not None


def test_delete_with_51_ids_is_400(braze):
    response = braze.post("/users/delete", {"external_ids": [f"u{i}" for i in range(51)]})
    assert (response.status_code, response.json()["message"]) == (400, TOO_MANY)


def test_delete_by_email_with_ambiguous_prioritization_deletes_nobody(braze_sandbox, braze):
    braze.track(attributes=[{"external_id": "a", "email": "s@x.io"}, {"external_id": "b", "email": "s@x.io"}])
    braze.post("/users/delete", {"email_addresses": [{"email": "s@x.io", "prioritization": ["identified"]}]})
    assert len(braze_sandbox.store.users()) == 2
    braze.post(
        "/users/delete",
        {"email_addresses": [{"email": "s@x.io", "prioritization": ["identified", "most_recently_updated"]}]},
    )
    assert [u.external_id for u in braze_sandbox.store.users()] == ["a"]


def test_delete_by_alias(braze_sandbox, braze):
    braze.post("/users/alias/new", {"user_aliases": [alias("gone")]})
    assert braze.post("/users/delete", {"user_aliases": [alias("gone")]}).json()["deleted"] == 1
    assert braze_sandbox.store.users() == []


# --- /users/export/ids --------------------------------------------------------------------------------


def test_export_returns_requested_fields_and_invalid_ids(braze_sandbox, braze):
    braze.track(attributes=[{"external_id": "u", "first_name": "Ada", "email": "a@x.io", "tier": "gold"}])
    response = braze.post(
        "/users/export/ids",
        {"external_ids": ["u", "missing"], "fields_to_export": ["external_id", "first_name", "custom_attributes"]},
    )
    assert response.status_code == 201
    assert response.json()["users"] == [
        {"external_id": "u", "first_name": "Ada", "custom_attributes": {"tier": "gold"}}
    ]
    assert response.json()["invalid_user_ids"] == ["missing"]


def test_export_by_single_email_address(braze_sandbox, braze):
    braze.track(attributes=[{"external_id": "u", "email": "a@x.io"}])
    response = braze.post("/users/export/ids", {"email_address": "a@x.io", "fields_to_export": ["external_id"]})
    assert response.json()["users"] == [{"external_id": "u"}]


def test_export_mixing_arrays_and_a_single_identifier_is_400(braze):
    response = braze.post("/users/export/ids", {"external_ids": ["u"], "braze_id": "b"})
    assert response.status_code == 400


def test_export_with_51_ids_across_external_ids_and_aliases_is_400(braze):
    response = braze.post(
        "/users/export/ids",
        {"external_ids": [f"u{i}" for i in range(30)], "user_aliases": [alias(f"a{i}") for i in range(21)]},
    )
    assert (response.status_code, response.json()["message"]) == (400, TOO_MANY)


def test_export_with_unknown_field_is_400(braze):
    response = braze.post("/users/export/ids", {"external_ids": ["u"], "fields_to_export": ["shoe_size"]})
    assert response.status_code == 400


@pytest.fixture
def new_workspace():
    with BrazeSandbox(api_keys={"k": None}, require_fields_to_export=True) as sandbox:
        yield sandbox


def test_export_without_fields_to_export_is_400_in_a_new_workspace(new_workspace, braze_client_for):
    client = braze_client_for("k", url=new_workspace.url)
    assert client.post("/users/export/ids", {"external_ids": ["u"]}).status_code == 400
    assert client.post("/users/export/ids", {"external_ids": ["u"], "fields_to_export": ["email"]}).status_code == 201


def test_alias_new_sent_twice_is_harmless(braze_sandbox, braze):
    braze.track(attributes=[{"external_id": "u"}])
    body = {"user_aliases": [{"external_id": "u", **alias("a1")}, alias("solo")]}
    braze.post("/users/alias/new", body)
    response = braze.post("/users/alias/new", body)
    assert response.json() == {"message": "success", "aliases_processed": 2}
    assert len(braze_sandbox.store.users()) == 2


def test_alias_new_refuses_an_alias_owned_by_another_profile(braze_sandbox, braze):
    braze.track(attributes=[{"external_id": "u"}, {"external_id": "v"}])
    braze.post("/users/alias/new", {"user_aliases": [{"external_id": "u", **alias("a1")}]})
    response = braze.post("/users/alias/new", {"user_aliases": [{"external_id": "v", **alias("a1")}]})
    assert response.json()["errors"][0]["index"] == 0
