"""The admin policy list and the SMS pages read as Chinese for a person (issue 13, item 2): beneficiaries as
text ("王* 100.00%"), never a Python list; SMS purposes, templates, backends and statuses by their Chinese
names, never EREVISIT / outbox; no None, True or FAB's __None."""
import re

from app.extensions import db
from app.models import Policy, SmsMessage
from app.services import sms
from tests.conftest import login
from tests.views.test_readable_pages import visible_text

BAD = re.compile(r"\[<|\[[^\]]*%|__None|\bEREVISIT|\boutbox\b|\baliyun\b|\b(None|True|False)\b|object at 0x")


def text_of(client, url):
    response = client.get(url)
    assert response.status_code == 200, url
    return visible_text(response.get_data(as_text=True))


def clean(text, url):
    found = BAD.search(text)
    assert found is None, f"{url}: {found.group(0)!r} in …{text[max(found.start() - 80, 0):found.end() + 80]}…"


def test_the_policy_list_and_page_show_beneficiaries_as_text(seeded, client):
    login(client, "admin")
    policy = db.session.query(Policy).filter_by(policy_no="860007775808888").one()
    listing = text_of(client, "/policyview/list/")
    clean(listing, "/policyview/list/")
    # the demo's lists: death 马配偶, survival the insured 马妍 (names masked)
    assert "860007775808888" in listing and "身故受益人:马** 100.00%;生存受益人:马* 100.00%" in listing
    assert "马配偶" not in listing
    show = text_of(client, f"/policyview/show/{policy.id}")
    assert "受益人 身故受益人:马** 100.00%" in show and "Beneficiaries" not in show
    for url in (f"/policyview/show/{policy.id}", f"/policyview/edit/{policy.id}", "/beneficiaryview/list/"):
        clean(text_of(client, url), url)


def test_sms_pages_name_templates_purposes_backends_and_statuses(seeded, client, app):
    invite = sms.queue("EREVISIT_INVITE", "13800138001", {"name": "张德强", "title": "先生", "product": "爱鑫红",
                                                          "link": "http://127.0.0.1:5000/s/abcdefgh"},
                       purpose="EREVISIT")
    code = sms.queue("VERIFY_CODE", "13700137004", {"minutes": 5}, purpose="CODE", secret={"code": "123456"})
    invite.status, code.status = "DELIVERED", "FAILED"
    db.session.commit()
    login(client, "admin")
    listing = text_of(client, "/smsmessageview/list/")
    clean(listing, "/smsmessageview/list/")
    assert "电子化回访邀请" in listing and "已送达" in listing and "发送失败" in listing
    for message in (invite, code):
        url = f"/smsmessageview/show/{message.id}"
        text = text_of(client, url)
        clean(text, url)
        assert "开发发件箱" in text
    assert "电子化回访邀请" in text_of(client, f"/smsmessageview/show/{invite.id}")
    assert "验证码" in text_of(client, f"/smsmessageview/show/{code.id}")
    assert db.session.query(SmsMessage).count() == 2
