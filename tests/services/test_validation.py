"""Identity documents, mobiles, bank cards and money (pure rules, no database)."""
from datetime import date
from decimal import Decimal

import pytest

from app.services.money import to_money
from app.services.validation import (id_document_valid, luhn_valid, make_resident_id,
                                     normalize_mobile, resident_id_birth_date, resident_id_gender,
                                     resident_id_valid)


def test_resident_id_check_digit_birth_date_and_gender():
    number = make_resident_id("110105", date(1978, 3, 14), 11)
    assert resident_id_valid(number)
    assert resident_id_birth_date(number) == date(1978, 3, 14)
    assert resident_id_gender(number) == "M"
    wrong = number[:17] + ("0" if number[17] != "0" else "1")
    assert not resident_id_valid(wrong)
    assert resident_id_valid("11010519491231002X")  # the standard's own example
    assert not resident_id_valid("110105197802301234")  # 30 February


def test_other_documents():
    assert id_document_valid("HMT_PERMIT", make_resident_id("810000", date(1990, 1, 1), 12))
    assert not id_document_valid("HMT_PERMIT", make_resident_id("110105", date(1990, 1, 1), 12))
    assert id_document_valid("HK_MACAO_PASS", "H12345678") and id_document_valid("HK_MACAO_PASS", "M1234567890")
    assert not id_document_valid("HK_MACAO_PASS", "X12345678")
    assert id_document_valid("TAIWAN_PASS", "12345678") and not id_document_valid("TAIWAN_PASS", "1234567")
    assert id_document_valid("FOREIGN_PR", "USA123456789012")


@pytest.mark.parametrize("raw,expected", [
    ("13800138000", "13800138000"), ("+86 138 0013 8000", "13800138000"),
    ("008613800138000", "13800138000"), ("12800138000", None), ("1380013800", None), ("", None),
])
def test_mobile(raw, expected):
    assert normalize_mobile(raw) == expected


def test_bank_card_luhn():
    assert luhn_valid("4111111111111111")
    assert not luhn_valid("4111111111111112")
    assert not luhn_valid("411111111111")  # too short


def test_money_is_decimal_rounded_half_up_to_the_fen():
    assert to_money("12000") == Decimal("12000.00")
    assert to_money("0.605") == Decimal("0.61")
    assert to_money(0.1) == Decimal("0.10")
    with pytest.raises(ValueError):
        to_money("十二")
    with pytest.raises(ValueError):
        to_money("NaN")
