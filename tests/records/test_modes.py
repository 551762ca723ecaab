"""Export modes: canonical and Treasure Data spellings, builders and endpoints."""

from __future__ import annotations

import pytest

from airflow_provider_braze.braze.endpoints import CATALOGUE
from airflow_provider_braze.records import (
    BUILDERS,
    AttributesBuilder,
    DeleteBuilder,
    EventsBuilder,
    IdentifyBuilder,
    Mode,
    NewAliasBuilder,
    PurchasesBuilder,
    RecordBuilder,
    RecordType,
    builder_class,
    endpoint_for,
    get_builder,
    parse_mode,
    parse_record_type,
)


@pytest.mark.parametrize(
    ("spelling", "mode"),
    [
        ("new_alias", Mode.NEW_ALIAS),
        ("identify", Mode.IDENTIFY),
        ("track", Mode.TRACK),
        ("delete", Mode.DELETE),
        ("User - New Alias", Mode.NEW_ALIAS),
        ("User - Identify", Mode.IDENTIFY),
        ("User - Identifying", Mode.IDENTIFY),
        ("User - Track", Mode.TRACK),
        ("User - Delete", Mode.DELETE),
        ("user - track", Mode.TRACK),
        ("  USER  -  DELETE ", Mode.DELETE),
        ("TRACK", Mode.TRACK),
        (Mode.IDENTIFY, Mode.IDENTIFY),
    ],
)
def test_mode_spellings_are_accepted_in_any_case(spelling, mode):
    assert parse_mode(spelling) is mode


@pytest.mark.parametrize(
    ("spelling", "record_type"),
    [
        ("attributes", RecordType.ATTRIBUTES),
        ("attribute", RecordType.ATTRIBUTES),
        ("User Profile Attributes", RecordType.ATTRIBUTES),
        ("user profile attributes", RecordType.ATTRIBUTES),
        ("events", RecordType.EVENTS),
        ("event", RecordType.EVENTS),
        ("Custom Events", RecordType.EVENTS),
        ("purchases", RecordType.PURCHASES),
        ("purchase", RecordType.PURCHASES),
        ("PURCHASES", RecordType.PURCHASES),
    ],
)
def test_record_type_spellings_are_accepted_in_any_case(spelling, record_type):
    assert parse_record_type(spelling) is record_type


def test_unknown_mode_raises_value_error_listing_valid_modes():
    with pytest.raises(ValueError, match="Unknown Braze export mode 'User - Merge'") as info:
        parse_mode("User - Merge")
    for valid in ("new_alias", "identify", "track", "delete", "User - New Alias", "User - Identifying"):
        assert valid in str(info.value)


def test_unknown_record_type_raises_value_error_listing_valid_types():
    with pytest.raises(ValueError, match="Unknown track record type 'Sessions'") as info:
        parse_record_type("Sessions")
    for valid in ("attributes", "events", "purchases", "User Profile Attributes", "Custom Events"):
        assert valid in str(info.value)


@pytest.mark.parametrize(
    ("mode", "endpoint"),
    [
        ("new_alias", "users/alias/new"),
        ("User - Identifying", "users/identify"),
        ("User - Track", "users/track"),
        ("delete", "users/delete"),
    ],
)
def test_each_mode_sends_to_its_catalogue_endpoint(mode, endpoint):
    assert endpoint_for(mode) == endpoint
    assert endpoint in CATALOGUE


@pytest.mark.parametrize(
    ("mode", "record_type", "builder_type"),
    [
        ("new_alias", None, NewAliasBuilder),
        ("User - Identify", None, IdentifyBuilder),
        ("User - Delete", None, DeleteBuilder),
        ("User - Track", "User Profile Attributes", AttributesBuilder),
        ("track", "Custom Events", EventsBuilder),
        ("track", "purchase", PurchasesBuilder),
    ],
)
def test_get_builder_returns_the_mode_builder(mode, record_type, builder_type):
    builder = get_builder(mode, record_type)

    assert type(builder) is builder_type
    assert isinstance(builder, RecordBuilder)
    assert builder.endpoint == endpoint_for(mode)


def test_builder_item_keys_are_body_keys_of_its_endpoint():
    rows = {
        ("new_alias", None): {"alias_name": "a", "alias_label": "crm"},
        ("identify", None): {"external_id": "u", "email": "a@example.com"},
        ("delete", None): {"braze_id": "b"},
        ("track", "attributes"): {"external_id": "u"},
        ("track", "events"): {"external_id": "u", "name": "e", "time": "2024-01-01"},
        ("track", "purchases"): {
            "external_id": "u",
            "product_id": "p",
            "currency": "usd",
            "price": 1,
            "time": "2024-01-01",
        },
    }
    for (mode, record_type), row in rows.items():
        builder = get_builder(mode, record_type)
        assert builder.build(row, 1).key in CATALOGUE[builder.endpoint].body_keys


def test_track_without_record_type_raises_value_error():
    with pytest.raises(ValueError, match="needs record_type"):
        get_builder("User - Track")


def test_record_type_outside_track_raises_value_error():
    with pytest.raises(ValueError, match="only to the 'track' mode"):
        get_builder("delete", "events")


def test_get_builder_passes_options_to_the_builder():
    builder = get_builder("track", "attributes", null_handling="unset", pre_formatted_fields="a, b")

    assert builder.unset_nulls is True
    assert builder.pre_formatted_fields == {"a", "b"}


def test_unknown_option_raises_type_error():
    with pytest.raises(TypeError):
        get_builder("delete", prioritisation=["identified"])


def test_every_mode_table_is_read_from_the_builders_declarations():
    for builder in BUILDERS:
        for spelling in (builder.mode.value, *builder.td_modes):
            assert parse_mode(spelling) is builder.mode
        assert endpoint_for(builder.mode) == builder.endpoint
        assert builder.endpoint in CATALOGUE
        if builder.record_type is not None:
            assert parse_record_type(builder.td_record_type) is builder.record_type
            assert builder_class(builder.mode, builder.td_record_type) is builder
        else:
            assert builder_class(builder.mode) is builder


def test_an_option_another_mode_takes_is_refused_naming_option_mode_and_record_type():
    refused = r"^null_handling, prioritization do not apply to mode 'track' with record_type 'events'"
    with pytest.raises(ValueError, match=refused):
        get_builder("track", "events", null_handling="unset", prioritization=["identified"])


def test_an_option_given_as_none_counts_as_not_given():
    builder = get_builder("User - Delete", null_handling=None, prioritization=None)

    assert builder.prioritization == DeleteBuilder().prioritization


def test_the_caller_names_its_record_type_argument_in_errors():
    with pytest.raises(ValueError, match="'User - Track' needs track_record_type"):
        get_builder("User - Track", record_type_argument="track_record_type")
    with pytest.raises(ValueError, match=r"^track_record_type applies only to the 'track' mode, not to 'delete'"):
        get_builder("delete", "events", record_type_argument="track_record_type")
