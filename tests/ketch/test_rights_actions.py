"""What corrections and restrictions of processing write to Braze profiles (no I/O)."""

from __future__ import annotations

from airflow_provider_braze.ketch.rights_actions import correction, profile_updates, unsubscribe_all


def test_a_correction_writes_the_subject_fields_checked_and_never_the_email():
    fix = correction({"email": "new@example.com", "firstName": " Ada ", "lastName": "", "countryCode": "de"})
    assert fix.attributes == {"first_name": " Ada ", "country": "DE"}
    assert fix.refused == []


def test_a_correction_refuses_a_value_braze_would_drop_naming_the_field_not_the_value():
    fix = correction({"firstName": "x" * 300, "countryCode": "Narnia"})
    assert fix.attributes == {}
    assert fix.refused == [
        ("firstName", "firstName is not a valid value for Braze's first_name"),
        ("countryCode", "countryCode is not a valid value for Braze's country"),
    ]


def test_a_correction_reads_custom_form_fields_when_mapped():
    subject = {"formData": {"preferredName": "Countess"}, "firstName": "Ada"}
    fix = correction(subject, {"formData.preferredName": "preferred_name", "formData.absent": "other"})
    assert fix.attributes == {"preferred_name": "Countess"}


def test_unsubscribe_all_sets_both_global_states_and_each_listed_group():
    assert unsubscribe_all() == {"email_subscribe": "unsubscribed", "push_subscribe": "unsubscribed"}
    assert unsubscribe_all(["sms-1"])["subscription_groups"] == [
        {"subscription_group_id": "sms-1", "subscription_state": "unsubscribed"}
    ]


def test_profile_updates_name_each_profile_by_external_id_or_braze_id_and_never_create_one():
    users = [{"external_id": "u1", "braze_id": "b1"}, {"braze_id": "b2"}, {}]
    assert profile_updates(users, {"last_name": "King"}) == [
        {"external_id": "u1", "_update_existing_only": True, "last_name": "King"},
        {"braze_id": "b2", "_update_existing_only": True, "last_name": "King"},
    ]
