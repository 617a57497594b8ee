"""Hostile input at the edge (issue 9, holes 3 and 11): redirect targets, lookalike digits,
names with invisible characters, amounts and dates that only look right."""
from datetime import date
from decimal import Decimal

import pytest

from app.services import urls, validation

# --- hole 3: one decision for every `next` ------------------------------------------------------

HOSTILE_TARGETS = [
    "//evil.example", "///evil.example", "////evil.example", "/\\evil.example", "\\\\evil.example",
    "/\t/evil.example", "/\n/evil.example", "/\r\n/evil.example", "\t//evil.example", " //evil.example",
    "/%09/evil.example", "/%2F%2Fevil.example", "/%2f/evil.example", "/%5Cevil.example", "/%5C%5Cevil.example",
    "%2F%2Fevil.example", "/%252F%252Fevil.example", "http:evil.example", "https:/evil.example",
    "http://evil.example/", "https://evil.example", "javascript:alert(1)", "JaVaScRiPt:alert(1)",
    "data:text/html,<script>alert(1)</script>", "evil.example", "／／evil.example", "/／evil.example",
    "/\u202e/evil.example", "/\u200b/evil.example", "/\x00/evil.example", "", None, 42, "/" + "a" * 5000,
]


@pytest.mark.parametrize("target", HOSTILE_TARGETS)
def test_a_hostile_next_falls_back(target):
    assert urls.safe_next(target, fallback="/home") == "/home"
    assert not urls.is_local(target, allowed_host="portal.example")


@pytest.mark.parametrize("target", ["/", "/my/", "/my/policy/3?tab=1", "/s/AbC123?x=%2F", "/policyview/list/?_flt_0_name=%E6%9D%8E"])
def test_a_local_path_is_kept(target):
    assert urls.safe_next(target, fallback="/home") == target


def test_a_prefix_keeps_customers_on_their_pages():
    assert urls.safe_next("/my/policy/3", "/my/", prefix="/my/") == "/my/policy/3"
    assert urls.safe_next("/policyview/list/", "/my/", prefix="/my/") == "/my/"


def test_the_same_host_may_be_named_when_allowed():
    assert urls.is_local("http://portal.example/policyview/list/", allowed_host="portal.example")
    assert not urls.is_local("http://portal.example/x")  # no host allowed: paths only
    assert not urls.is_local("http://portal.example.evil/x", allowed_host="portal.example")
