"""The one masking rule for personal data shown where the whole value is not needed (staff pages,
customer pages, exports, letters): an ID number keeps its first 3 and last 4 characters
(110***********0033), a mobile its first 3 and last 4 digits (138****8001), a bank card number its first 4
and last 4 digits (6217 **** **** 8507)."""


def mask_id_number(value):
    if not value:
        return "" if value is None else value
    value = str(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:] if len(value) > 7 else "*" * len(value)


def mask_mobile(value):
    if not value:
        return "" if value is None else value
    value = str(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:] if len(value) > 7 else "*" * len(value)


def mask_card(value):
    """A bank card number keeps its first 4 and last 4 digits: 6217 **** **** 8507."""
    if not value:
        return "" if value is None else value
    value = str(value)
    return f"{value[:4]} **** **** {value[-4:]}" if len(value) > 8 else "*" * len(value)


def mask_name(value):
    """A person's name keeps its first character (王**, 李*); where the customer or staff only need to
    recognise whom a row is about (a policy's beneficiaries)."""
    if not value:
        return "" if value is None else value
    value = str(value).strip()
    return value[:1] + "*" * max(len(value) - 1, 1)
