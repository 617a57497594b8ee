"""受益人变更 on the customer's pages (/my/beneficiary) through HTTP, in the seed's order and without
JavaScript: the policies (全选), the tabs pre-filled with the current lists, "+", 平均分配, 提交, the
confirmation (YES) with the code, 本次业务受理成功; errors keep what was typed; customer B swapping ids;
CSRF; the claim flag through the intake API."""
import re
from datetime import date

import pytest

from app.extensions import db
from app.models import Policy, ServicingApplication
from app.models.policy import Beneficiary
from app.services.validation import make_resident_id
from tests.conftest import csrf_token
from tests.views.test_account import _session_celery, outbox_code, page, sign_in  # noqa: F401
from tests.views.test_intake_api import token
from tests.views.test_loan_pages import MA_YAN_MOBILE, ready

WANG_YI_ID = make_resident_id("110101", date(1985, 3, 1), 23)  # male
WANG_ER_ID = make_resident_id("110101", date(2010, 6, 1), 22)  # female
NNF, SHS, AXB = "860007775808888", "860006373328888", "880007656378888"  # 马妍's three policies


@pytest.fixture(autouse=True)
def _codes_for_tests(app, monkeypatch):
    for key in ("CODE_SENDS_PER_MINUTE", "CODE_SENDS_PER_HOUR", "CODE_SENDS_PER_DAY"):
        monkeypatch.setitem(app.config, key, 100)
    monkeypatch.setitem(app.config, "RATELIMIT_ENABLED", False)


def pid(policy_no):
    db.session.commit()
    return db.session.query(Policy.id).filter_by(policy_no=policy_no).scalar()


def signed_in_ma_yan(client):
    ready("C0003")
    assert "已认证" in page(sign_in(client, MA_YAN_MOBILE))


def fields(html):
    """Every named input/select of the page's form, as the browser would post it (no JavaScript)."""
    data = []
    for tag in re.finditer(r"<(input|select)\b[^>]*>", html):
        text = tag.group(0)
        name = re.search(r'name="([^"]+)"', text)
        if not name or name.group(1) in ("action", "all"):
            continue
        if tag.group(1) == "select":
            rest = html[tag.end():html.index("</select>", tag.end())]
            chosen = re.search(r'<option selected value="([^"]*)"', rest) or \
                re.search(r'<option value="([^"]*)" selected', rest) or re.search(r'<option value="([^"]*)"', rest)
            data.append((name.group(1), chosen.group(1) if chosen else ""))
            continue
        kind = re.search(r'type="([^"]+)"', text)
        kind = kind.group(1) if kind else "text"
        if kind == "checkbox":
            if " checked" in text:
                data.append((name.group(1), re.search(r'value="([^"]*)"', text).group(1)))
            continue
        value = re.search(r'value="([^"]*)"', text)
        data.append((name.group(1), value.group(1) if value else ""))
    return data


def as_dict(pairs):
    found = {}
    for key, value in pairs:
        found.setdefault(key, []).append(value)
    return found


def post(client, url, data, action=None, **changes):
    data = as_dict(data)
    for key, value in changes.items():
        data[key.replace("__", "-")] = value if isinstance(value, list) else [value]
    if action:
        data["action"] = [action]
    return client.post(url, data=data)


def edit_page(client, *policy_nos):
    query = "&".join(f"policy={pid(number)}" for number in policy_nos)
    return client.get(f"/my/beneficiary/edit?{query}")


def two_people_form(client, html):
    """The edit page's fields with the death list changed to 王一 60 / 王二 40 (the second row added)."""
    added = post(client, "/my/beneficiary/edit", fields(html), action="add-DEATH")
    assert added.status_code == 200 and 'name="death-1-name"' in page(added)
    data = as_dict(fields(page(added)))
    data.update({"death-0-name": ["王一"], "death-0-id_number": [WANG_YI_ID], "death-0-gender": ["M"],
                 "death-0-birth_date": ["1985-03-01"], "death-0-relationship": ["SPOUSE"],
                 "death-0-share": ["60"], "death-0-long_term": ["y"],
                 "death-1-name": ["王二"], "death-1-id_number": [WANG_ER_ID], "death-1-gender": ["F"],
                 "death-1-birth_date": ["2010-06-01"], "death-1-relationship": ["CHILD"], "death-1-order": ["1"],
                 "death-1-share": ["40"], "death-1-long_term": ["y"]})
    return [(key, value) for key, values in data.items() for value in values]


@pytest.fixture
def ma_yan(seeded, client):
    signed_in_ma_yan(client)
    return client


def beneficiaries(policy_no):
    db.session.commit()
    db.session.expire_all()
    found = db.session.query(Policy).filter_by(policy_no=policy_no).one()
    return sorted((b.name, str(b.share)) for b in found.current_beneficiaries("DEATH"))


# --- the steps ------------------------------------------------------------------------------

def test_the_item_lists_the_policies_to_choose_with_select_all(ma_yan):
    listed = ma_yan.get("/my/service/BENEFICIARY", follow_redirects=True)
    text = page(listed)
    assert listed.status_code == 200 and "即将开放" not in text
    assert "请选择同时变更的保单" in text and "全选" in text
    for number in (NNF, SHS, AXB):
        assert f'data-beneficiary-policy="{number}"' in text
    assert "880000001522216" not in text  # 张德强's
    everything = ma_yan.get("/my/beneficiary/edit?all=1")  # 全选 without JavaScript
    assert all(f'data-chosen="{number}"' in page(everything) for number in (NNF, SHS, AXB))


def test_the_tabs_are_prefilled_and_the_survival_tab_only_when_every_product_allows(ma_yan):
    html = page(edit_page(ma_yan, NNF, SHS))
    assert "身故受益人" in html and 'data-tab="SURVIVAL"' in html
    assert 'value="马配偶"' in html and 'value="马妍"' in html  # the current lists, to edit
    html = page(edit_page(ma_yan, NNF, AXB))
    assert 'data-tab="SURVIVAL"' not in html and 'name="survival-0-name"' not in html
    assert "不允许变更生存受益人" in html


def test_policies_with_different_lists_are_said_to_be_prefilled_from_the_first(ma_yan):
    assert 'id="lists-differ-DEATH"' not in page(edit_page(ma_yan, NNF, SHS))  # the demo's lists agree
    policy = db.session.query(Policy).filter_by(policy_no=SHS).one()
    db.session.query(Beneficiary).filter_by(policy_id=policy.id, kind="DEATH").update({"share": 50})
    db.session.commit()
    html = page(edit_page(ma_yan, NNF, SHS))
    assert 'id="lists-differ-DEATH"' in html and f"以下按保单{NNF}的名单预填" in html
    assert 'id="lists-differ-SURVIVAL"' not in html


def test_add_and_split_without_javascript(ma_yan):
    html = page(edit_page(ma_yan, NNF))
    data = fields(html)
    for action in ("add-DEATH", "add-DEATH"):
        html = page(post(ma_yan, "/my/beneficiary/edit", data, action=action))
        data = fields(html)
    assert 'name="death-2-name"' in html
    split = page(post(ma_yan, "/my/beneficiary/edit", data, action="split-DEATH"))
    shares = re.findall(r'name="death-[0-9]-share"[^>]*value="([^"]*)"', split) or \
        re.findall(r'value="([^"]*)"[^>]*name="death-[0-9]-share"', split)
    assert shares == ["33.34", "33.33", "33.33"]
    removed = page(post(ma_yan, "/my/beneficiary/edit", fields(split), action="remove-DEATH-1"))
    assert 'name="death-2-name"' not in removed and 'name="death-1-name"' in removed


def test_99_99_is_refused_with_the_message_and_what_was_typed_comes_back(ma_yan):
    data = two_people_form(ma_yan, page(edit_page(ma_yan, NNF, SHS)))
    refused = post(ma_yan, "/my/beneficiary/edit", data, action="submit", death__1__share="39.99")
    text = page(refused)
    assert refused.status_code == 400 and "同一顺序的受益比例相加需为100%" in text and "99.99" in text
    assert 'value="王二"' in text and 'value="39.99"' in text and f'value="{WANG_YI_ID}"' in text
    wrong_birth = post(ma_yan, "/my/beneficiary/edit", data, action="submit", death__0__birth_date="1985-03-02")
    assert wrong_birth.status_code == 400 and "出生日期与身份证号码不符" in page(wrong_birth)
    expired = post(ma_yan, "/my/beneficiary/edit", data, action="submit", death__0__long_term=[],
                   death__0__id_valid_until="2001-01-01")
    assert expired.status_code == 400 and "证件已过有效期" in page(expired)
    stranger = post(ma_yan, "/my/beneficiary/edit", data, action="submit", death__0__relationship="OTHER")
    assert stranger.status_code == 400 and "被保险人的亲属" in page(stranger)
    assert db.session.query(ServicingApplication).count() == 0


def test_two_policies_to_two_people_at_60_40_end_in_success(ma_yan):
    data = two_people_form(ma_yan, page(edit_page(ma_yan, NNF, SHS)))
    confirm = post(ma_yan, "/my/beneficiary/edit", data, action="submit")
    html = page(confirm)
    assert confirm.status_code == 200 and "确认不再添加其他受益人" in html and "YES" in html
    assert "第一顺序 王一(配偶) 60.00%" in html and "第一顺序 王二(子女) 40.00%" in html
    no_code = post(ma_yan, "/my/beneficiary/edit", fields(html), action="confirm")
    assert no_code.status_code == 400 and "请输入短信验证码" in page(no_code)
    sent = post(ma_yan, "/my/beneficiary/code", fields(html))
    assert sent.status_code == 200 and "验证码已发送至" in page(sent)
    final = fields(page(sent))
    done = post(ma_yan, "/my/beneficiary/edit", final, action="confirm", code=outbox_code(MA_YAN_MOBILE))
    assert done.status_code == 200 and "本次业务受理成功" in page(done), page(done)
    again = post(ma_yan, "/my/beneficiary/edit", final, action="confirm", code="000000")  # double submit
    assert "本次业务受理成功" in page(again)
    assert db.session.query(ServicingApplication).filter_by(kind="BENEFICIARY").count() == 1
    for number in (NNF, SHS):
        assert beneficiaries(number) == [("王一", "60.00"), ("王二", "40.00")]
    assert beneficiaries(AXB) == [("马配偶", "100.00")]
    assert db.session.query(Beneficiary).filter(Beneficiary.superseded_at.isnot(None)).count() == 2
    listed = page(ma_yan.get("/my/beneficiary"))
    assert "正在办理中" not in listed  # completed: the policies are free again


def test_customer_b_swapping_ids_gets_404_and_nothing_is_stored(seeded, client):
    ready("C0003")
    ready("C0001")
    sign_in(client, "13800138001")  # 张德强
    assert client.get(f"/my/beneficiary/edit?policy={pid(NNF)}").status_code == 404
    token_ = csrf_token(page(client.get("/my/")))
    posted = client.post("/my/beneficiary/edit", data={"csrf_token": token_, "policy": [str(pid(NNF))],
                                                      "request_key": "k" * 20, "action": "confirm",
                                                      "death-0-name": "张三", "code": "123456"})
    assert posted.status_code == 404 and "不存在或不属于您" in page(posted)
    assert client.post("/my/beneficiary/code", data={"csrf_token": token_, "policy": str(pid(NNF))}).status_code \
        == 404
    assert db.session.query(ServicingApplication).count() == 0


def test_no_csrf_no_change_and_odd_input_never_500(ma_yan):
    data = two_people_form(ma_yan, page(edit_page(ma_yan, NNF)))
    data = [(k, v) for k, v in data if k != "csrf_token"]
    expired = post(ma_yan, "/my/beneficiary/edit", data, action="confirm", code="123456")
    assert expired.status_code == 400 and "页面已过期" in page(expired) and 'value="王一"' in page(expired)
    for query in ("policy=abc", "policy=", "policy=99999999", "policy=-1", "", "policy=1e3"):
        assert ma_yan.get(f"/my/beneficiary/edit?{query}").status_code in (400, 404, 409)
    html = page(edit_page(ma_yan, NNF))
    odd = [("death-99999999999999999-name", "x"), ("death-0-order", "9"), ("death-0-share", "NaN"),
           ("death-0-id_type", "<script>"), ("survival-0-share", "1e400"), ("death-0-birth_date", "2020-02-30")]
    for action in ("submit", "confirm", "remove-DEATH-99", "split-SURVIVAL", "add-NOPE", "remove-DEATH-x"):
        reply = post(ma_yan, "/my/beneficiary/edit", fields(html) + odd, action=action)
        assert reply.status_code < 500, (action, reply.status_code)
        assert "<script>" not in page(reply)
    assert db.session.query(ServicingApplication).count() == 0


def test_a_reported_claim_through_the_intake_api_blocks_the_change(ma_yan, client):
    headers = token(client)
    reply = client.post("/api/v1/intake/claims", json={"policy_no": SHS}, headers=headers)
    assert reply.status_code == 200 and reply.get_json()["policy_no"] == SHS
    assert client.post("/api/v1/intake/claims", json={"policy_no": "1234"}, headers=headers).status_code == 404
    assert client.post("/api/v1/intake/claims", json={"policy_no": SHS, "reported_at": "soon"},
                       headers=headers).status_code == 400
    assert client.post("/api/v1/intake/claims", json={"policy_no": SHS}).status_code == 401
    listed = page(ma_yan.get("/my/beneficiary"))
    assert "已报案" in listed
    refused = edit_page(ma_yan, NNF, SHS)
    assert refused.status_code == 409 and "已报案" in page(refused)
