"""The key screens (issue 15 point 2) through the customer's pages: after a questionnaire, a loan, a repayment, an
annuity change, a beneficiary change and an insured's consent, a KeyScreen holds the text the page served (read
back from the page itself and compared), its SHA-256 matches, and editing a template afterwards changes nothing
kept; the back office lists them (关键页面) on the task and the application."""
import hashlib
import re

import pytest
from jinja2 import ChoiceLoader, DictLoader

from app.extensions import db
from app.models import Policy, RevisitTask
from app.models.screen import KeyScreen
from app.services import screens
from app.views.account.loan import LOAN_AGREEMENT_VERSION
from tests.biometric import agree_everyone
from tests.conftest import login
from tests.services.test_consent import faces, record_of  # noqa: F401
from tests.services.test_consent import apply as consent_loan
from tests.views.test_account import _session_celery, page  # noqa: F401
from tests.views.test_annuity_pages import form_with_code
from tests.views.test_beneficiary_pages import NNF, SHS, WANG_YI_ID, edit_page, fields, post, two_people_form
from tests.views.test_consent_pages import LI_MING_SELFIE, answer, upload
from tests.views.test_customer_revisit import _task_ids, _verify, invited, linked  # noqa: F401
from tests.views.test_loan_pages import (CARD, MA_YAN, PASSWORD, add_loan, applications, loan_form, policy_id,
                                         repay_form, signed_in_ma_yan)
from tests.views.test_account import outbox_code
from tests.views.test_loan_pages import MA_YAN_MOBILE


@pytest.fixture(autouse=True)
def _limits(app, monkeypatch):
    for key in ("CODE_SENDS_PER_MINUTE", "CODE_SENDS_PER_HOUR", "CODE_SENDS_PER_DAY"):
        monkeypatch.setitem(app.config, key, 100)
    monkeypatch.setitem(app.config, "RATELIMIT_ENABLED", False)


def kept(**where):
    db.session.commit()
    db.session.expire_all()
    return db.session.query(KeyScreen).filter_by(**where).order_by(KeyScreen.id).all()


def check_hash(screen):
    assert screen.text_sha256 == hashlib.sha256(screen.text.encode("utf-8")).hexdigest()
    assert screen.shown_at <= screen.agreed_at and screen.ip == "127.0.0.1" and screen.user_agent


def unticked(text):
    """A page's text without the ticks and the answered count (they change as the customer answers)."""
    return [re.sub(r"\[[x ]\] ", "", line) for line in text.split("\n") if not line.startswith("已回答")]


def back_office(app, user, url):
    staff = app.test_client()
    login(staff, user)
    response = staff.get(url)
    assert response.status_code == 200, url
    return page(response)


def test_the_questionnaire_kept_is_the_page_served_with_the_answers(app, invited, client, monkeypatch):
    code = invited["C0001"]
    _verify(client, code)
    first, second = _task_ids("C0001")[:2]
    served = page(client.get(f"/s/{code}/task/{first}"))
    served_text = screens.page_text(served)
    questions = [line for line in served_text.split("\n") if re.match(r"第 \d+ / \d+ 题 \d+\. ", line)]
    assert len(questions) >= 3
    names = sorted(set(re.findall(r'name="(q_\d+)"', served)), key=lambda n: int(n[2:]))
    data = {"csrf_token": re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', served).group(1),
            "task_id": str(first), **{name: "yes" for name in names}}
    data[names[1]] = "no"
    assert client.post(f"/s/{code}/task/{first}", data=data).status_code == 302

    [screen] = kept(revisit_task_id=first)
    task = db.session.get(RevisitTask, first)
    check_hash(screen)
    assert screen.kind == "QUESTIONNAIRE" and screen.policy_id == task.policy_id
    assert screen.customer_id == task.policy.holder_id and screen.consent_id is None
    assert task.policy.policy_no in screen.text and task.policy.product.name in screen.text
    for question in questions:
        assert question in screen.text
    # the same page as served, only the answers ticked: 是 on each question, 否 on the second
    assert unticked(screen.text) == unticked(served_text)
    ticks = re.findall(r"\[(x| )\] (是|否)", screen.text)
    assert ticks.count(("x", "是")) == len(names) - 1 and ticks.count(("x", "否")) == 1
    assert "csrf" not in screen.text.lower() and str(first) not in re.findall(r"\[([^\]x ]+)\]", screen.text)

    # the page's template edited afterwards: the screen kept does not change; the next one is the new page
    before = (screen.text, screen.text_sha256)
    source = app.jinja_env.loader.get_source(app.jinja_env, "h5/questionnaire.html")[0]
    edited = source.replace('{{ _("请您根据实际情况如实回答以下问题。") }}', "【新版问卷页面】")
    assert edited != source
    monkeypatch.setattr(app.jinja_env, "loader", ChoiceLoader([DictLoader({"h5/questionnaire.html": edited}),
                                                               app.jinja_env.loader]))
    app.jinja_env.cache.clear()
    try:
        assert "【新版问卷页面】" in page(client.get(f"/s/{code}/task/{second}"))
        [again] = kept(revisit_task_id=first)
        assert (again.text, again.text_sha256) == before and "【新版问卷页面】" not in again.text
        shown = back_office(app, "admin", f"/revisittaskview/show/{first}")
        assert "关键页面" in shown and screen.text_sha256 in shown and questions[0] in shown
        assert "【新版问卷页面】" not in shown
    finally:
        monkeypatch.undo()
        app.jinja_env.cache.clear()
    assert [s.id for s in screens.for_task(first)] == [screen.id]
    assert screen.id in [s.id for s in screens.for_policy(task.policy_id)]


def test_the_loan_confirmation_kept_has_the_amounts_and_the_agreement_version(app, seeded, client):
    signed_in_ma_yan(client)
    pid = policy_id()
    served, data = loan_form(client, pid, amount="5000")
    assert f"版本 {LOAN_AGREEMENT_VERSION}" in served
    done = client.post(f"/my/loan/{pid}", data=data)
    assert "保全申请操作完毕" in page(done)
    [application] = applications()
    [screen] = kept(application_id=application.id)
    check_hash(screen)
    assert screen.kind == "LOAN_CONFIRM" and screen.policy_id == pid and screen.customer_id == application.customer_id
    assert screen.agreement_version == LOAN_AGREEMENT_VERSION
    lines = screen.text.split("\n")
    for line in ("保险单号: " + MA_YAN, "本次贷款金额: 5000.00 元", "印花税: 0.25 元", "实际入账金额: 4999.75 元",
                 f"《保单贷款协议》 版本 {LOAN_AGREEMENT_VERSION}"):
        assert line in lines, (line, lines)
    assert any(line.startswith("[x] ") and "同意" in line for line in lines)  # the agreement ticked
    assert "贷款金额超过2000元的,按万分之零点五缴纳印花税,从贷款金额中扣除。" in screen.text
    # what the page served (the figures, the agreement) is what was kept; secrets are not
    served_lines = screens.page_text(served).split("\n")
    for line in served_lines:
        if line.startswith(("验证码已发送至", "银行卡号")) or line.startswith("[ ]"):
            continue  # the flash of 获取验证码; the card (kept masked); the agreement box is ticked on submit
        assert line in lines, line
    for secret in (CARD, PASSWORD, data["code"], data["csrf_token"]):
        assert secret not in screen.text
    assert CARD[-4:] in screen.text
    assert [s.id for s in screens.for_application(application.id)] == [screen.id]
    assert screen.id in [s.id for s in screens.for_policy(pid)]
    shown = back_office(app, "operator", f"/review-queue/{application.id}")
    assert "关键页面" in shown and screen.text_sha256 in shown and "实际入账金额: 4999.75 元" in shown


def test_the_repayment_kept_has_the_amount_owed_and_paid(seeded, client):
    add_loan()
    signed_in_ma_yan(client)
    pid = policy_id()
    served, data = repay_form(client, pid, "1000")
    assert "保全申请操作完毕" in page(client.post(f"/my/repay/{pid}", data=data))
    [application] = applications()
    [screen] = kept(application_id=application.id)
    check_hash(screen)
    assert screen.kind == "REPAYMENT_CONFIRM" and screen.agreement_version is None
    for line in ("未还本金: 10000.00 元", "截至今日利息: 42.47 元", "应还本息合计: 10042.47 元", "还款金额 [1000]"):
        assert line in screen.text.split("\n"), line
    for line in screens.page_text(served).split("\n"):
        if not line.startswith(("验证码已发送至", "银行卡号")):
            assert line in screen.text, line


def test_the_annuity_change_kept_has_the_method_chosen(seeded, client):
    signed_in_ma_yan(client)
    pid = db.session.query(Policy.id).filter_by(policy_no="880007656378888").scalar()
    served, data = form_with_code(client, pid)
    assert "本次业务受理成功" in page(client.post(f"/my/annuity/{pid}", data=data))
    [application] = applications()
    [screen] = kept(application_id=application.id)
    check_hash(screen)
    assert screen.kind == "ANNUITY_CONFIRM" and screen.policy_id == pid
    lines = screen.text.split("\n")
    assert "保单号: 880007656378888" in lines and any(line.startswith("当前年金领取方式: ") for line in lines)
    [chosen] = [line for line in lines if line.startswith("[x] ")]
    assert "万能账户" in chosen
    for line in screens.page_text(served).split("\n"):
        if not line.startswith("验证码已发送至"):
            assert line in lines, line


def test_the_beneficiary_confirmation_kept_has_the_new_list_for_each_policy(seeded, client):
    signed_in_ma_yan(client)
    data = two_people_form(client, page(edit_page(client, NNF, SHS)))
    confirm = page(post(client, "/my/beneficiary/edit", data, action="submit"))
    sent = page(post(client, "/my/beneficiary/code", fields(confirm)))
    done = post(client, "/my/beneficiary/edit", fields(sent), action="confirm", code=outbox_code(MA_YAN_MOBILE))
    assert "本次业务受理成功" in page(done)
    [application] = applications()
    [screen] = kept(application_id=application.id)
    check_hash(screen)
    assert screen.kind == "BENEFICIARY_CONFIRM"
    for text in ("第一顺序 王一(配偶) 60.00%", "第一顺序 王二(子女) 40.00%", "确认不再添加其他受益人?", NNF, SHS):
        assert text in screen.text, text
    assert WANG_YI_ID not in screen.text  # masked as on the page
    for line in screens.page_text(confirm).split("\n"):
        assert line in screen.text, line
    for number in (NNF, SHS):
        assert screen.id in [s.id for s in screens.for_policy(policy_id(number))]


def test_the_insureds_consent_kept_is_linked_to_the_consent(faces, client):  # noqa: F811
    agree_everyone()  # the biometric notice agreed before (tests/views/test_biometric_consent.py)
    application = consent_loan()
    record = record_of(application)
    served = page(upload(client, record.code, LI_MING_SELFIE))
    assert "本人同意" in served
    assert "您已确认同意" in page(answer(client, record.code))
    [screen] = kept(consent_id=record.id)
    check_hash(screen)
    assert screen.kind == "CONSENT" and screen.application_id == application.id
    assert screen.customer_id == record.customer_id and screen.policy_id == record.policy_id
    for line in record.text.split("\n"):
        assert line.strip() in screen.text, line
    assert screen.text.endswith("【本人选择】本人同意")
    for line in screens.page_text(served).split("\n"):
        assert line in screen.text, line
    assert [s.id for s in screens.for_application(application.id)] == [screen.id]
