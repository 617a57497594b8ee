"""The fuzz suite's shared pieces: how many examples, the nasty inputs, and what every answer must hold.

By default a small, derandomized run (the same examples every time, so CI is repeatable);
FUZZ_EXAMPLES=500 runs that many examples a test with a fresh random seed.
"""
import os
import re

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from app.extensions import db

FUZZ_EXAMPLES = os.environ.get("FUZZ_EXAMPLES")
settings.register_profile(
    "fuzz", max_examples=int(FUZZ_EXAMPLES or 10), derandomize=not FUZZ_EXAMPLES, deadline=None,
    # the default run reports the first failing example as found (shrinking one can take minutes on
    # this database); the wide run shrinks it to the smallest reproduction
    phases=list(Phase) if FUZZ_EXAMPLES else [Phase.explicit, Phase.reuse, Phase.generate],
    database=None,  # no .hypothesis/ directory in the checkout; failures print their example
    # the app fixtures are function-scoped on purpose: each test starts from the seed, and the examples
    # only assert relative invariants (rows before/after the request) or undo their own change
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                           HealthCheck.data_too_large, HealthCheck.filter_too_much])
FUZZ = settings.get_profile("fuzz")

# --- the inputs -------------------------------------------------------------------------------

# Surrogates cannot be encoded in UTF-8 (no client could send them); every other category can.
any_char = st.characters(exclude_categories=("Cs",))
LOOKALIKES = [
    "\u202e", "\u200b", "\u200d", "\ufeff", "\x00", "\x1b[31m", "\r\n", "\t",  # bidi, zero-width, control
    "１３８００１３８０００", "１１０１０５１９７８０３１４００３３",  # full-width digits (mobile, ID number)
    "1e30", "-1", "NaN", "inf", "-0", "1,2,3", "1_000", "9" * 40, "0x10", "１２.５",
    "<img src=x onerror=alert(1)>", "=HYPERLINK(\"http://evil\")", "'; DROP TABLE policy; --", "%00", "../../etc/passwd",
    "张德强", "110105197803140033", "13800138001", "2026-02-30", "1899-01-01", "9999-12-31",
]
nasty_text = st.one_of(
    st.text(any_char, max_size=40),
    st.sampled_from(LOOKALIKES),
    st.lists(st.sampled_from(LOOKALIKES), min_size=2, max_size=4).map("".join),
    st.text(any_char, min_size=300, max_size=3000),  # longer than any column
)
huge_int = st.one_of(st.integers(-2 ** 70, 2 ** 70), st.sampled_from([0, -1, 2 ** 31, 2 ** 63, 2 ** 64, 10 ** 30]))
# a form field's value as a browser could send it
form_value = st.one_of(nasty_text, huge_int.map(str))
json_scalar = st.one_of(st.none(), st.booleans(), huge_int, st.floats(allow_nan=False), nasty_text)
# wrong types: a scalar where an object is due, objects where a string is due, and so on
json_value = st.recursive(json_scalar, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)), max_leaves=8)


def deeply_nested(depth=20000):
    """JSON nested deeper than Python's recursion limit: parsing it must be refused, not crash."""
    return "[" * depth + "]" * depth


# --- what every answer must hold --------------------------------------------------------------

CJK = re.compile(r"[\u4e00-\u9fff]")


def assert_no_crash(response, what=""):
    body = response.get_data(as_text=True)
    assert response.status_code < 500, f"{what} answered {response.status_code}: {body[:2000]}"
    assert "Traceback" not in body and 'File "' not in body, f"{what} shows a traceback: {body[:2000]}"
    return body


def assert_chinese_refusal(response, what=""):
    """A 4xx of a customer or staff page explains itself in Chinese (not Werkzeug's English page)."""
    body = assert_no_crash(response, what)
    if 400 <= response.status_code < 500:
        assert CJK.search(body), f"{what} refused with {response.status_code} without a Chinese message: {body[:500]}"
        assert "The browser (or proxy) sent a request" not in body, f"{what}: Werkzeug's English 400 page"
    return body


def row_counts(*tables):
    """Rows of each table, read on a connection of its own (not the test's session snapshot)."""
    names = tables or [t.name for t in db.metadata.sorted_tables]
    with db.engine.connect() as conn:
        return {name: conn.execute(select(func.count()).select_from(db.metadata.tables[name])).scalar()
                for name in names}


def reset_limits(app):
    """Rate limits answer 429 under fuzzing; each example starts with fresh counters."""
    from app.extensions import limiter

    limiter.reset()
    if getattr(app.appbuilder.sm, "limiter", None) is not None:
        app.appbuilder.sm.limiter.reset()


@pytest.fixture
def api_token(seeded, app):
    """An Integration JWT, as the core system gets one."""
    from tests.conftest import PASSWORD

    reply = app.test_client().post("/api/v1/security/login", json={
        "username": "integration", "password": PASSWORD, "provider": "db", "refresh": False})
    assert reply.status_code == 200, reply.get_data(as_text=True)
    return {"Authorization": "Bearer " + reply.get_json()["access_token"]}
