"""POST /sms/report (Alibaba's delivery receipts): a credential in production, bounded input, and
receipts for unknown messages counted, not logged one line each (issue 9 hole 6)."""
import json
import logging

import pytest

from app import ConfigurationError, create_app
from app.views import sms_report
from tests.conftest import make_config

PRODUCTION = {"PORTAL_ENV": "production", "SECRET_KEY": "p" * 48, "SMS_BACKEND": "aliyun",
              "ALIYUN_ACCESS_KEY_ID": "ak", "ALIYUN_ACCESS_KEY_SECRET": "secret",
              "DATA_ENCRYPTION_KEYS": "VGhpcy1pcy1hLTMyLWJ5dGUtdGVzdC1rZXktMDAwMDA=", "DATA_HASH_KEY": "h" * 32,
              "EVIDENCE_SIGNING_KEY": "ZWVlZWVlZWVlZWVlZWVlZWVlZWVlZWVlZWVlZWVlZWU="}


def _receipt(n):
    return {"phone_number": "13800138000", "success": True, "out_id": f"unknown-{n}",
            "report_time": "2026-11-25 10:00:05", "err_code": "DELIVERED"}


def test_production_with_the_alibaba_backend_needs_a_receipt_token(servers):
    with pytest.raises(ConfigurationError, match="SMS_REPORT_TOKEN"):
        create_app(make_config(servers, **PRODUCTION))
    assert create_app(make_config(servers, **PRODUCTION, SMS_REPORT_TOKEN="t" * 32))


def test_production_without_a_token_accepts_no_receipts(app, client, monkeypatch):
    """The outbox backend needs no token to start, but then nobody may push receipts."""
    monkeypatch.setitem(app.config, "PORTAL_ENV", "production")
    reply = client.post("/sms/report", json=[_receipt(1)])
    assert reply.status_code == 403 and "令牌" in reply.get_json()["msg"]


def test_development_without_a_token_is_open_and_says_so_once(app, client, caplog, monkeypatch):
    monkeypatch.setattr(sms_report, "_open_warning_logged", False)
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            assert client.post("/sms/report", json=[_receipt(1)]).status_code == 200
    warnings = [r for r in caplog.records if "SMS_REPORT_TOKEN" in r.getMessage()]
    assert len(warnings) == 1


def test_unknown_receipts_are_counted_in_one_log_line(app, client, caplog):
    with caplog.at_level(logging.INFO):
        reply = client.post("/sms/report", json=[_receipt(n) for n in range(50)])
    assert reply.status_code == 200
    assert reply.get_json()["matched"] == 0 and reply.get_json()["unmatched"] == 50
    unknown = [r for r in caplog.records if "unknown" in r.getMessage()]
    assert len(unknown) == 1 and "50" in unknown[0].getMessage()


@pytest.mark.parametrize("body", [
    json.dumps({"phone_number": "13800138000"}),  # an object, not a list
    json.dumps("receipts"), json.dumps(42), json.dumps(None),
    json.dumps([1, 2, 3]), json.dumps([[{"phone_number": "13800138000"}]]), json.dumps(["x"]),
    "[" * 100000 + "]" * 100000,  # deeply nested
    json.dumps([_receipt(n) for n in range(1001)]),  # more than one push carries
])
def test_bad_payloads_answer_4xx_and_record_nothing(app, client, body):
    reply = client.post("/sms/report", data=body, content_type="application/json")
    assert 400 <= reply.status_code < 500
    assert reply.get_json()["code"] == reply.status_code and reply.get_json()["msg"]


def test_a_huge_body_is_refused_before_it_is_parsed(app, client):
    body = json.dumps([_receipt(1) | {"err_msg": "x" * 2_000_000}])
    reply = client.post("/sms/report", data=body, content_type="application/json")
    assert reply.status_code == 413 and reply.get_json()["code"] == 413
