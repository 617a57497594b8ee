"""Format rules for identity documents, mobiles and bank cards (DOMAIN.md, validation facts)."""
import re
from datetime import date

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
MOBILE = re.compile(r"^1[3-9]\d{9}$")


def id_check_digit(first17: str) -> str:
    """GB 11643-1999: weighted sum mod 11 -> 1,0,X,9,8,7,6,5,4,3,2."""
    return _CHECK[sum(int(c) * w for c, w in zip(first17, _WEIGHTS)) % 11]


def resident_id_valid(number: str) -> bool:
    number = (number or "").strip().upper()
    if not re.fullmatch(r"\d{17}[\dX]", number):
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
            or bool(re.fullmatch(r"[A-Z]{3}\d{12}", number))
    if id_type == "HK_MACAO_PASS":
        return bool(re.fullmatch(r"[HM]\d{8}(\d{2})?", number))
    if id_type == "TAIWAN_PASS":
        return bool(re.fullmatch(r"\d{8}", number))
    if id_type == "PASSPORT":
        return bool(re.fullmatch(r"[A-Z0-9]{5,17}", number))
    if id_type == "BIRTH_CERT":
        return bool(re.fullmatch(r"[A-Z]?\d{9}", number))
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
    if not re.fullmatch(r"\d{16,19}", card):
        return False
    total = 0
    for i, ch in enumerate(reversed(card)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0
