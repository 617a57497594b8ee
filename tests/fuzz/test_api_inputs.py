"""Every API endpoint with generated input beyond what its spec allows: wrong types, missing and extra
fields, huge numbers, every Unicode category, oversized and deeply nested bodies, malformed rison.
No answer is a 500 or shows a traceback, and a refused report stores nothing."""
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fuzz.conftest import (FUZZ, deeply_nested, form_value, huge_int, json_value, nasty_text,
                                 assert_no_crash, row_counts)
from tests.services.test_intake import policy_row

INTAKE_TABLES = ("policy", "customer", "beneficiary", "revisit_task", "sms_message")
POLICY_FIELDS = list(policy_row())


@st.composite
def mangled_policy(draw):
    """A valid policy row with some fields replaced by anything, dropped, or joined by strangers."""
    row = policy_row(draw(st.sampled_from(["990000000000001", "990000000000002"])))
    for field in draw(st.lists(st.sampled_from(POLICY_FIELDS + ["holder.name", "holder.id_number",
                                                                "holder.mobile", "beneficiaries.0.share"]),
                               min_size=1, max_size=3, unique=True)):
        action = draw(st.sampled_from(["replace", "replace", "drop"]))
        target, key = row, field
        for part in field.split(".")[:-1]:
            target = target[int(part)] if part.isdigit() else target[part]
        key = field.split(".")[-1]
        key = int(key) if key.isdigit() else key
        if action == "drop":
            target.pop(key, None)
        else:
            target[key] = draw(json_value)
    if draw(st.booleans()):
        row[draw(nasty_text)] = draw(json_value)  # an extra field
    return row


intake_body = st.one_of(
    st.builds(lambda rows: {"policies": rows}, st.lists(mangled_policy(), min_size=1, max_size=3)),
    json_value.map(lambda value: {"policies": value}),
    json_value,
)


@given(body=intake_body)
@settings(FUZZ)
def test_intake_refuses_bad_reports_whole(api_token, client, body):
    before = row_counts(*INTAKE_TABLES)
    reply = client.post("/api/v1/intake/policies", json=body, headers=api_token)
    assert_no_crash(reply, f"intake {body!r:.300}")
    if reply.status_code != 200:
        assert reply.status_code in (400, 413, 422), reply.status_code
        assert row_counts(*INTAKE_TABLES) == before, "a refused report stored rows"


@given(raw=st.one_of(st.binary(max_size=200), st.sampled_from([
    deeply_nested().encode(), b'{"policies": ' + deeply_nested().encode() + b"}",
    b'{"policies": [' + b"{}," * 6000 + b"{}]}",  # more rows than a report may hold
    b"\xff\xfe\x00", b'{"policies": [1e999999]}', b'{"policies": NaN}'])))
@settings(FUZZ)
def test_intake_survives_raw_bodies(api_token, client, raw):
    before = row_counts(*INTAKE_TABLES)
    reply = client.post("/api/v1/intake/policies", data=raw, headers=api_token, content_type="application/json")
    assert_no_crash(reply, f"intake raw {raw[:100]!r}")
    assert reply.status_code in (400, 413, 422), reply.status_code
    assert row_counts(*INTAKE_TABLES) == before


rison = st.one_of(nasty_text, st.sampled_from([
    "(", "(page:99999999999999999999999)", "(page_size:-1)", "(page:-5,page_size:1000000)",
    "(filters:!((col:policy_no,opr:ct,value:'1')))", "(filters:!((col:nope,opr:eq,value:1)))",
    "(order_column:nope)", "(columns:!(holder.id_number))", "(keys:!(nope))", "!(", "'",
    "(filters:!((col:premium,opr:gt,value:1e30)))"]))


@given(path=st.sampled_from(["/api/v1/policy/", "/api/v1/revisit_task/"]),
       q=rison, pk=st.one_of(huge_int.map(str), nasty_text))
@settings(FUZZ)
def test_model_apis_survive_queries_and_ids(api_token, client, path, q, pk):
    assert_no_crash(client.get(path, query_string={"q": q}, headers=api_token), f"GET {path}?q={q!r}")
    assert_no_crash(client.get(path + pk.replace("/", "%2F").replace("?", "%3F"), headers=api_token),
                    f"GET {path}{pk!r}")


@given(args=st.dictionaries(st.sampled_from(["from", "to", "since", "page", "page_size", "extra"]), form_value),
       policy_no=nasty_text)
@settings(FUZZ)
def test_phone_revisit_api_survives_any_query(api_token, client, args, policy_no):
    for url in ("/api/v1/phone_revisit/results", "/api/v1/phone_revisit/attempts"):
        reply = client.get(url, query_string=args, headers=api_token)
        assert_no_crash(reply, f"GET {url} {args!r}")
        assert reply.status_code in (200, 400), (url, args, reply.status_code)
    path = "/api/v1/phone_revisit/results/" + policy_no.replace("/", "%2F").replace("?", "%3F").replace("#", "%23")
    reply = client.get(path, headers=api_token)
    assert_no_crash(reply, f"GET {path!r}")


receipt = st.fixed_dictionaries({}, optional={
    "phone_number": form_value, "success": json_value, "biz_id": form_value, "out_id": form_value,
    "send_time": form_value, "report_time": form_value, "err_code": form_value, "err_msg": form_value,
    "sms_size": json_value})


@given(body=st.one_of(st.lists(receipt, max_size=3), json_value))
@settings(FUZZ)
def test_sms_report_survives_any_push(seeded, client, body):
    before = row_counts()
    reply = client.post("/sms/report", data=json.dumps(body), content_type="application/json")
    assert_no_crash(reply, f"/sms/report {body!r:.300}")
    assert row_counts() == before, "a receipt push added or removed rows"
    if reply.status_code != 200:
        assert reply.status_code == 400 and "msg" in reply.get_json()


@given(raw=st.sampled_from([deeply_nested().encode(), b"\xff\xfe", b"[" + b'{"out_id":"x"},' * 20000 + b"{}]"]))
@settings(FUZZ)
def test_sms_report_survives_raw_bodies(seeded, client, raw):
    reply = client.post("/sms/report", data=raw, content_type="application/json")
    assert_no_crash(reply, f"/sms/report raw {raw[:60]!r}")
