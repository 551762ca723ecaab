"""One redaction: secrets hidden wherever text leaves the provider; emails and phones masked in logs."""

from __future__ import annotations

import json

from airflow.sdk.log import _secrets_masker

from airflow_provider_braze.operators import BrazeTrackUsersOperator
from airflow_provider_braze.redaction import HIDDEN, mask_identifier, mask_personal, redact, redact_value, register


def test_secrets_are_hidden_longest_first():
    assert redact("key abc and abcdef", ["abc", "abcdef"]) == f"key {HIDDEN} and {HIDDEN}"


def test_a_json_body_is_cleaned_everywhere_keys_included():
    body = {"message": "bad key k-123", "errors": [{"type": "k-123 refused", "k-123": ["x k-123"]}]}
    assert "k-123" not in json.dumps(redact_value(body, ["k-123"]))


def test_personal_data_in_a_reason_is_masked():
    text = "row 3, column 'backup': 'ada.lovelace@example.com' is not a plan; call +14155550100"
    masked = mask_personal(text)
    assert masked == "row 3, column 'backup': 'ad***@example.com' is not a plan; call +141***"
    assert mask_identifier("+14155550100") == "+14***" and mask_identifier("ada@example.com") == "ad***@example.com"


def test_a_problem_logged_by_an_export_masks_emails_but_the_rejected_file_keeps_the_row(
    sandbox, braze_conn, tmp_path, caplog
):
    rejected = tmp_path / "rejected.jsonl"
    with caplog.at_level("WARNING"):
        BrazeTrackUsersOperator(
            task_id="t",
            records=[{"external_id": "u1", "gender": "ada.lovelace@example.com"}],
            skip_on_invalid_records=True,
            rejected_records_path=str(rejected),
        ).execute(context={})
    logged = [r.getMessage() for r in caplog.records if r.name == "airflow_provider_braze.ledger"]
    assert logged == [
        "row 1, column 'gender': gender 'ad***@example.com' is not one of Braze's genders: M (male), "
        "F (female), O (other), N (not applicable), P (prefer not to say) (invalid)"
    ]
    assert "ada.lovelace@example.com" not in caplog.text
    assert json.loads(rejected.read_text())["data"]["gender"] == "ada.lovelace@example.com"


def test_a_registered_secret_is_masked_by_airflow_in_task_logs():
    # Airflow already masks the connection's password; register() covers secrets read elsewhere
    # (a Ketch token, a state-store URL with its password).
    register("ketch-token-4f9a2c")
    assert _secrets_masker().redact("Bearer ketch-token-4f9a2c refused") == "Bearer *** refused"
