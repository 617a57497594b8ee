"""Format rules for identity documents, mobiles, bank cards, names and amounts (DOMAIN.md,
validation facts).

Input is NFKC-folded once at the edge (normalize_text: full-width １２３ becomes 123, so a
lookalike ID number finds the customer already on file instead of making a second one), and every
pattern here matches ASCII only ([0-9], re.ASCII): \\d would also take Arabic-Indic or full-width
digits.
"""
import re
import unicodedata
from datetime import date
from decimal import Decimal

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
MOBILE = re.compile(r"^1[3-9][0-9]{9}$", re.ASCII)
NAME_MAX_LENGTH = 64  # customer.name, beneficiary.name
# Money columns are DECIMAL(14,2): 12 digits before the point, 2 after; no sign, exponent,
# separators (1,2,3 or 1_000) or NaN/Infinity, all of which Decimal() would otherwise accept.
AMOUNT = re.compile(r"^([0-9]{1,12})(?:\.([0-9]{1,2}))?$", re.ASCII)


def normalize_text(value) -> str:
    """The one edge normalisation: str, NFKC-folded, surrounding whitespace removed."""
    if value is None:
        return ""
    return unicodedata.normalize("NFKC", str(value)).strip()


def name_problem(name, max_length=NAME_MAX_LENGTH):
    """None for an acceptable person's name, else the error key: empty, too long, or holding
    control, format (bidi overrides U+202A-202E / U+2066-2069, zero-width U+200B-200D, U+FEFF),
    private-use, unassigned or line/paragraph-separator characters, which make a name display
    as something else than what is stored."""
    if not name:
        return "field_required"
    if len(name) > max_length:
        return "field_too_long"
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Co", "Cs", "Cn", "Zl", "Zp") for ch in name):
        return "field_bad_chars"
    return None


def parse_amount(text):
    """A non-negative amount of at most 12 integer digits and 2 decimals, as Decimal, else None."""
    match = AMOUNT.match(text or "")
    return Decimal(match.group(0)).quantize(Decimal("0.01")) if match else None


def id_check_digit(first17: str) -> str:
    """GB 11643-1999: weighted sum mod 11 -> 1,0,X,9,8,7,6,5,4,3,2."""
    return _CHECK[sum(int(c) * w for c, w in zip(first17, _WEIGHTS)) % 11]


def resident_id_valid(number: str) -> bool:
    number = (number or "").strip().upper()
    if not re.fullmatch(r"[0-9]{17}[0-9X]", number, re.ASCII):
        return False
    if id_check_digit(number[:17]) != number[17]:
        return False
    return resident_id_birth_date(number) is not None


def resident_id_birth_date(number: str):
    try:
        return date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return None


def resident_id_gender(number: str) -> str:
    """The 17th digit: odd for male."""
    return "M" if int(number[16]) % 2 else "F"


def make_resident_id(area: str, birth: date, sequence: int) -> str:
    first17 = f"{area}{birth:%Y%m%d}{sequence:03d}"
    return first17 + id_check_digit(first17)


def id_document_valid(id_type: str, number: str) -> bool:
    number = (number or "").strip().upper()
    if id_type in ("RESIDENT_ID", "HOUSEHOLD"):
        return resident_id_valid(number)
    if id_type == "HMT_PERMIT":
        return number[:6] in ("810000", "820000", "830000") and resident_id_valid(number)
    if id_type == "FOREIGN_PR":
        return (len(number) == 18 and number[0] == "9" and number[17] == id_check_digit(number[:17])) \
            or bool(re.fullmatch(r"[A-Z]{3}[0-9]{12}", number, re.ASCII))
    if id_type == "HK_MACAO_PASS":
        return bool(re.fullmatch(r"[HM][0-9]{8}([0-9]{2})?", number, re.ASCII))
    if id_type == "TAIWAN_PASS":
        return bool(re.fullmatch(r"[0-9]{8}", number, re.ASCII))
    if id_type == "PASSPORT":
        return bool(re.fullmatch(r"[A-Z0-9]{5,17}", number, re.ASCII))
    if id_type == "BIRTH_CERT":
        return bool(re.fullmatch(r"[A-Z]?[0-9]{9}", number, re.ASCII))
    return False


def normalize_mobile(value: str):
    """Strip spaces and +86 / 0086; return the 11 digits or None when it is not a mainland mobile."""
    value = re.sub(r"[\s-]", "", value or "")
    for prefix in ("+86", "0086"):
        if value.startswith(prefix):
            value = value[len(prefix):]
    return value if MOBILE.match(value) else None


def luhn_valid(card: str) -> bool:
    card = re.sub(r"\s", "", card or "")
    if not re.fullmatch(r"[0-9]{16,19}", card, re.ASCII):
        return False
    total = 0
    for i, ch in enumerate(reversed(card)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0
