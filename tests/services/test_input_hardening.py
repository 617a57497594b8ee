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


# --- hole 11: lookalike digits, invisible characters, amounts -------------------------------------

FULL_WIDTH = str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


def test_validators_take_ascii_digits_only():
    number = validation.make_resident_id("110105", date(1978, 3, 14), 11)
    assert validation.resident_id_valid(number)
    assert not validation.resident_id_valid(number.translate(FULL_WIDTH))
    # the probe's case: full-width digits with an ASCII check digit passed the check
    assert not validation.resident_id_valid(number[:17].translate(FULL_WIDTH) + number[17])
    assert not validation.id_document_valid("RESIDENT_ID", number.translate(ARABIC_INDIC))
    assert not validation.id_document_valid("TAIWAN_PASS", "１２３４５６７８")
    assert validation.normalize_mobile("13800138001") == "13800138001"
    assert validation.normalize_mobile("１３８００１３８００１") is None
    assert validation.normalize_mobile("13８００１３８００１") is None
    assert validation.normalize_mobile("13800138001".translate(ARABIC_INDIC)) is None
    assert not validation.luhn_valid("６２２２０２１２３４５６７８９０１２３")


def test_the_edge_folds_lookalikes_into_what_the_validators_take():
    number = validation.make_resident_id("110105", date(1978, 3, 14), 11)
    assert validation.normalize_text(" " + number.translate(FULL_WIDTH) + "\u3000") == number
    assert validation.normalize_mobile(validation.normalize_text("１３８ ００１３ ８００１")) == "13800138001"
    assert validation.normalize_text(None) == ""


@pytest.mark.parametrize("name", ["张\u202e强", "张\u2066强", "张\u200b强", "张\u200d强", "\ufeff张德强", "张\x00强",
                                  "张\n强", "张\u2028强", "张" * 65])
def test_names_refuse_invisible_and_control_characters_and_length(name):
    assert validation.name_problem(name) in ("field_bad_chars", "field_too_long")


@pytest.mark.parametrize("name", ["张德强", "李 明", "John Smith", "欧阳·娜娜", "Zoë O'Neil"])
def test_real_names_pass(name):
    assert validation.name_problem(name) is None


@pytest.mark.parametrize("text", ["1,2,3", "1_000", "1e30", "1E3", "NaN", "nan", "Infinity", "-Infinity", "-0", "-1",
                                  "+5", "1.001", "0.005", "1234567890123", "12.", ".5", " ", "", "１２", "0x10",
                                  "1 000", "١٢"])
def test_amounts_that_only_look_like_numbers_are_refused(text):
    assert validation.parse_amount(text) is None


@pytest.mark.parametrize("text,amount", [("0", "0.00"), ("12000", "12000.00"), ("12000.5", "12000.50"),
                                         ("999999999999.99", "999999999999.99"), ("33.33", "33.33")])
def test_amounts_are_decimal_to_the_fen(text, amount):
    assert validation.parse_amount(text) == Decimal(amount)
    assert isinstance(validation.parse_amount(text), Decimal)
