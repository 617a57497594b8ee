from app.services import privacy


def test_one_rule_for_id_numbers_and_mobiles():
    assert privacy.mask_id_number("110105197803140033") == "110***********0033"
    assert privacy.mask_mobile("13800138001") == "138****8001"
    assert privacy.mask_id_number("H1234") == "*****"
    assert privacy.mask_mobile(None) == "" and privacy.mask_id_number("") == ""
