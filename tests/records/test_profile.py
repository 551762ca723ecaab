"""Braze's standard profile fields are validated and normalised per Braze's rules."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from airflow_provider_braze.records import AttributesBuilder


def field(column, value, **options):
    """The built value of one profile field, or the InvalidRecord."""
    result = AttributesBuilder(**options).build({"external_id": "u1", column: value}, 1)
    return result.value[column] if hasattr(result, "value") else result


@pytest.mark.parametrize("value", ["1990-01-02", date(1990, 1, 2), datetime(1990, 1, 2, 5)])
def test_dob_is_sent_as_yyyy_mm_dd(value):
    assert field("dob", value) == "1990-01-02"


@pytest.mark.parametrize("value", ["1990/01/02", "02/01/1990", "1990-02-30", "19900102"])
def test_dob_in_another_form_is_rejected(value):
    result = field("dob", value)

    assert result.column == "dob"
    assert result.reason == f"dob {value!r} is not a date in the form YYYY-MM-DD"


@pytest.mark.parametrize(("value", "expected"), [("M", "M"), ("f", "F"), (" o ", "O"), ("N", "N"), ("p", "P")])
def test_gender_letters_are_accepted_in_any_case(value, expected):
    assert field("gender", value) == expected


def test_unknown_gender_is_rejected_with_the_letters_explained():
    result = field("gender", "X")

    assert result.column == "gender"
    assert "M (male), F (female), O (other), N (not applicable), P (prefer not to say)" in result.reason


def test_country_is_upper_cased():
    assert field("country", "de") == "DE"


@pytest.mark.parametrize("value", ["DEU", "Germany", "EU", "ZZ", "D"])
def test_value_that_is_not_an_iso_3166_country_is_rejected(value):
    result = field("country", value)

    assert result.column == "country"
    assert "is not an ISO 3166-1 alpha-2 country code" in result.reason


def test_uk_country_code_is_rejected_with_a_hint_for_gb():
    assert field("country", "UK").reason == (
        "country 'UK' is not an ISO 3166-1 alpha-2 country code (the United Kingdom is GB)"
    )


def test_language_is_lower_cased():
    assert field("language", "FR") == "fr"


def test_language_with_region_is_rejected():
    assert field("language", "en-US").reason == (
        "language 'en-US' is not an ISO 639-1 language code such as en, fr or ja"
    )


def test_iana_time_zone_is_accepted():
    assert field("time_zone", "America/New_York") == "America/New_York"


def test_time_zone_in_the_wrong_case_is_rejected_with_the_right_spelling():
    result = field("time_zone", "america/new_york")

    assert result.reason == "time_zone 'america/new_york' is not spelled as the IANA time zone name 'America/New_York'"


@pytest.mark.parametrize("column", ["email_subscribe", "push_subscribe"])
@pytest.mark.parametrize("state", ["opted_in", "subscribed", "unsubscribed"])
def test_subscribe_states_are_accepted(column, state):
    assert field(column, state.upper()) == state


def test_unknown_push_subscribe_state_is_rejected():
    result = field("push_subscribe", "true")

    assert result.column == "push_subscribe"
    assert result.reason == "push_subscribe 'true' is not one of opted_in, subscribed, unsubscribed"


@pytest.mark.parametrize("column", ["date_of_first_session", "date_of_last_session", "marked_email_as_spam_at"])
def test_standard_date_fields_are_sent_as_iso_8601(column):
    assert field(column, "2024-05-01 13:45:00") == "2024-05-01T13:45:00+00:00"


def test_bad_standard_date_is_rejected():
    assert field("date_of_last_session", "last week").column == "date_of_last_session"


def test_current_location_json_text_is_parsed_without_pre_formatted_fields():
    assert field("current_location", '{"latitude": 48.85, "longitude": 2.35}') == {"latitude": 48.85, "longitude": 2.35}


def test_current_location_out_of_range_is_rejected():
    result = field("current_location", {"latitude": 91, "longitude": 0})

    assert result.reason == "current_location has latitude 91, outside -90..90"


def test_current_location_without_longitude_is_rejected():
    assert field("current_location", {"latitude": 1}).column == "current_location"


def test_subscription_groups_json_text_is_parsed_and_sent():
    text = '[{"subscription_group_id": "g1", "subscription_state": "subscribed"}]'

    assert field("subscription_groups", text) == [{"subscription_group_id": "g1", "subscription_state": "subscribed"}]


def test_subscription_group_without_id_is_rejected():
    result = field("subscription_groups", [{"subscription_state": "subscribed"}])

    assert result.reason == "subscription_groups has an entry at [0] without subscription_group_id"


def test_subscription_groups_that_is_not_an_array_is_rejected():
    result = field("subscription_groups", {"subscription_group_id": "g1", "subscription_state": "subscribed"})

    assert result.reason == "subscription_groups must be an array of objects, not an object"


def test_subscription_group_with_unknown_key_is_rejected():
    result = field("subscription_groups", [{"subscription_group_id": "g1", "subscription_state": "subscribed", "x": 1}])

    assert result.reason == "subscription_groups has an entry at [0] with the unknown key 'x'"


def test_push_tokens_are_sent_as_objects():
    tokens = [{"app_id": "app", "token": "abc", "device_id": "d1"}]

    assert field("push_tokens", tokens) == tokens


def test_push_token_without_token_is_rejected():
    assert field("push_tokens", [{"app_id": "app"}]).reason == "push_tokens has an entry at [0] without token"


def test_email_attribute_is_validated():
    result = AttributesBuilder().build({"external_id": "u1", "email": "not-an-email"}, 1)

    assert (result.column, result.reason) == ("email", "email is not an email address (expected name@domain)")


def test_invalid_email_reason_does_not_quote_the_address():
    result = AttributesBuilder().build({"external_id": "u1", "email": "ada@@example.com"}, 1)

    assert "ada" not in result.reason


def test_email_is_stripped_of_surrounding_spaces():
    assert field("email", " ada@example.com ") == "ada@example.com"


def test_integer_phone_is_sent_as_text():
    assert field("phone", 14155550100) == "14155550100"


def test_email_tracking_flags_take_csv_booleans():
    assert field("email_click_tracking_disabled", "1") is True


def test_first_name_over_255_characters_is_rejected():
    result = field("first_name", "A" * 256)

    assert result.column == "first_name"
    assert result.reason == "first_name is 256 characters long, above Braze's limit of 255"


def test_facebook_object_is_passed_through():
    assert field("facebook", '{"id": "123", "likes": ["a"]}') == {"id": "123", "likes": ["a"]}


def test_null_gender_is_sent_as_null_when_unsetting():
    assert field("gender", None, null_handling="unset") is None
