"""年金领取方式变更 on the customer's pages (/my/annuity) through HTTP, in the seed's order: 个人中心 → 保全项目 →
the list with the current method → the policy page (险种名称, 保单号, 被保人, 当前年金领取方式, the choice, the
masked mobile, 获取验证码) → 确认 → 本次业务受理成功 with the date the new method applies from; refused without a
universal account (the page says why, a POST is refused); a double submit; a wrong code; customer B swapping
ids; CSRF."""
import re

import pytest

from app.extensions import db
from app.models import Policy, ServicingApplication
from app.services import annuity, clock
from tests.conftest import csrf_token
from tests.views.test_account import outbox_code, page, sign_in
from tests.views.test_loan_pages import MA_YAN_MOBILE, ready

ANNUITY_POLICY, UNIVERSAL_POLICY = "880007656378888", "860007775808888"


@pytest.fixture(autouse=True)
def _codes_for_tests(app, monkeypatch):
    for key in ("CODE_SENDS_PER_MINUTE", "CODE_SENDS_PER_HOUR", "CODE_SENDS_PER_DAY"):
        monkeypatch.setitem(app.config, key, 100)
    monkeypatch.setitem(app.config, "RATELIMIT_ENABLED", False)


def policy(no=ANNUITY_POLICY):
    db.session.commit()
    return db.session.query(Policy).filter_by(policy_no=no).one()


def applications():
    db.session.commit()
    return db.session.query(ServicingApplication).order_by(ServicingApplication.id).all()


def signed_in_ma_yan(client):
    ready("C0003")
    assert "已认证" in page(sign_in(client, MA_YAN_MOBILE))


def form_with_code(client, pid, method="TO_UNIVERSAL"):
    """The page after 获取验证码 (the chosen method kept), and the fields to post with the code."""
    url = f"/my/annuity/{pid}"
    token = csrf_token(page(client.get(url)))
    sent = client.post(f"{url}/code", data={"csrf_token": token, "method": method}, follow_redirects=True)
    html = page(sent)
    assert "验证码已发送至 136****0003" in html, html
    key = re.search(r'name="request_key" type="hidden" value="([^"]+)"', html).group(1)
    return html, {"csrf_token": csrf_token(html), "request_key": key, "method": method,
                  "code": outbox_code(MA_YAN_MOBILE)}


def test_the_item_opens_the_list_with_the_current_method(seeded, client):
    signed_in_ma_yan(client)
    listed = client.get("/my/service/ANNUITY_METHOD")
    text = page(listed)
    assert listed.status_code == 200 and "即将开放" not in text
    assert f'data-annuity-policy="{ANNUITY_POLICY}"' in text and "爱心人寿爱鑫宝年金保险" in text
    assert "累积生息" in text and UNIVERSAL_POLICY not in text  # her universal policy is no annuity
    assert f'data-annuity-policy="{ANNUITY_POLICY}"' in page(client.get("/my/annuity"))


def test_the_change_with_the_code_shows_success_and_the_effective_date(seeded, client):
    signed_in_ma_yan(client)
    pid = policy().id
    html = page(client.get(f"/my/annuity/{pid}"))
    for word in ("险种名称", "保单号", "被保人", "当前年金领取方式", "变更后年金领取方式", "移动电话", "获取验证码", "确认"):
        assert word in html, word
    assert "136****0003" in html and MA_YAN_MOBILE not in html
    assert 'value="TO_UNIVERSAL"' in html and 'value="ACCUMULATE"' not in html  # not the current one
    expected = annuity.next_payment_date(policy(), clock.today())
    assert f"自{expected.isoformat()}起适用" in html and f"万能账户 {UNIVERSAL_POLICY}" in html
    sent, data = form_with_code(client, pid)
    assert 'value="TO_UNIVERSAL" id="method-TO_UNIVERSAL" checked' in sent  # kept across 获取验证码
    done = client.post(f"/my/annuity/{pid}", data=data)
    text = page(done)
    assert done.status_code == 200 and "本次业务受理成功" in text and "保全申请操作完毕" in text
    assert f"转入万能账户(账户 {UNIVERSAL_POLICY})" in text and f"自{expected.isoformat()}" in text
    [application] = applications()
    assert application.status == "COMPLETED" and application.decided_by_system
    found = policy()
    assert (found.annuity_method, found.annuity_method_from, found.universal_account_no) == \
        ("TO_UNIVERSAL", expected, UNIVERSAL_POLICY)
    listed = page(client.get("/my/annuity"))
    assert "转入万能账户" in listed and f"(自{expected.isoformat()}起)" in listed
    # the applied change leaves 累积生息 the only choice; 我的申请 shows it completed
    assert 'value="ACCUMULATE"' in page(client.get(f"/my/annuity/{pid}"))
    assert "年金领取方式变更" in page(client.get(f"/my/application/{application.id}"))


def test_a_double_submit_makes_one_application(seeded, client):
    signed_in_ma_yan(client)
    pid = policy().id
    _, data = form_with_code(client, pid)
    first = client.post(f"/my/annuity/{pid}", data=data)
    second = client.post(f"/my/annuity/{pid}", data=data)
    assert first.status_code == second.status_code == 200
    [application] = applications()
    assert application.application_no in page(first) and application.application_no in page(second)


def test_without_a_universal_account_the_page_says_why_and_a_post_is_refused(seeded, client):
    signed_in_ma_yan(client)
    universal = policy(UNIVERSAL_POLICY)
    universal.status = "TERMINATED"
    db.session.commit()
    pid = policy().id
    html = page(client.get(f"/my/annuity/{pid}"))
    assert "您名下没有有效的万能险保单(万能账户),暂不能选择“转入万能账户”" in html
    assert re.search(r'value="TO_UNIVERSAL"[^>]* disabled', html)
    _, data = form_with_code(client, pid)
    refused = client.post(f"/my/annuity/{pid}", data=data)
    assert refused.status_code == 409 and "暂不能受理:您名下没有有效的万能险保单" in page(refused)
    assert applications() == [] and policy().annuity_method == "ACCUMULATE"


def test_a_wrong_or_missing_code_and_no_choice_are_refused_in_chinese(seeded, client):
    signed_in_ma_yan(client)
    pid = policy().id
    _, data = form_with_code(client, pid)
    wrong = dict(data, code=f"{(int(data['code']) + 1) % 10 ** 6:06d}")
    refused = client.post(f"/my/annuity/{pid}", data=wrong)
    assert refused.status_code == 400 and "验证码" in page(refused) and 'id="page-error"' in page(refused)
    for typed, message in [({"code": ""}, "请输入短信验证码"), ({"code": "12ab"}, "验证码为6位数字"),
                           ({"method": ""}, "请选择变更后的年金领取方式"),
                           ({"method": "NOPE"}, "请选择变更后的年金领取方式"),
                           ({"method": "CASH"}, "该产品不提供“现金领取”的年金领取方式"),
                           ({"method": "ACCUMULATE"}, "当前年金领取方式已是“累积生息”,无需变更")]:
        answer = client.post(f"/my/annuity/{pid}", data=dict(data, **typed))
        assert answer.status_code in (400, 409) and message in page(answer), (typed, page(answer))
    assert applications() == [] and policy().annuity_method == "ACCUMULATE"


def test_csrf_is_required_on_every_post(seeded, client):
    signed_in_ma_yan(client)
    pid = policy().id
    _, data = form_with_code(client, pid)
    refused = client.post(f"/my/annuity/{pid}", data=dict(data, csrf_token="forged"))
    assert refused.status_code == 400 and "页面已过期" in page(refused)
    no_code = client.post(f"/my/annuity/{pid}/code", data={"method": "TO_UNIVERSAL"}, follow_redirects=True)
    assert "页面已过期" in page(no_code)
    assert applications() == []


def test_customer_b_swapping_ids_gets_404_and_nothing_is_stored(seeded, client):
    ready("C0003")
    ready("C0001")
    sign_in(client, "13800138001")  # 张德强
    pid = policy().id
    assert client.get(f"/my/annuity/{pid}").status_code == 404
    token = csrf_token(page(client.get("/my/")))
    posted = client.post(f"/my/annuity/{pid}", data={"csrf_token": token, "request_key": "k" * 20,
                                                      "method": "TO_UNIVERSAL", "code": "123456"})
    assert posted.status_code == 404 and "不存在或不属于您" in page(posted)
    assert client.post(f"/my/annuity/{pid}/code", data={"csrf_token": token, "method": "TO_UNIVERSAL"}) \
        .status_code == 404
    assert ANNUITY_POLICY not in page(client.get("/my/annuity"))
    # her universal policy is not an annuity: not found either, for her too
    assert client.get(f"/my/annuity/{policy(UNIVERSAL_POLICY).id}").status_code == 404
    assert client.get("/my/annuity/999999").status_code == 404
    assert applications() == [] and policy().annuity_method == "ACCUMULATE"


def test_an_unverified_customer_is_told_to_authenticate(seeded, client):
    db.session.commit()
    sign_in(client, MA_YAN_MOBILE)
    assert client.get("/my/annuity").status_code in (302, 403)
    assert client.get(f"/my/annuity/{policy().id}").status_code in (302, 403)


@pytest.mark.parametrize("typed", [
    {"method": "x" * 5000}, {"method": "转入万能账户"}, {"method": "TO_UNIVERSAL\x00"}, {"code": "１２３４５６"},
    {"code": "9" * 300}, {"request_key": ""}, {"request_key": "k" * 200}, {"method": ["TO_UNIVERSAL", "ACCUMULATE"]},
])
def test_odd_input_gets_a_chinese_answer_never_a_500(seeded, client, typed):
    signed_in_ma_yan(client)
    pid = policy().id
    _, data = form_with_code(client, pid)
    answer = client.post(f"/my/annuity/{pid}", data=dict(data, **typed))
    assert answer.status_code < 500
    if answer.status_code != 200:
        assert 'id="page-error"' in page(answer) and re.search(r"[\u4e00-\u9fff]", page(answer))
    stored = applications()
    assert len(stored) <= 1 and all(a.status == "COMPLETED" for a in stored)
