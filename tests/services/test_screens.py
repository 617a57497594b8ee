"""services/screens.py: a page's text as kept (ticked boxes, values, no secrets), record() with its SHA-256,
and for_policy / for_task / for_application oldest first (issue 15 point 2)."""
from datetime import timedelta

import pytest

from app.extensions import db
from app.models import Policy, RevisitTask, ServicingApplication
from app.models.screen import KeyScreen
from app.models.servicing import ApplicationPolicy
from app.services import clock, screens, unit

PAGE = """<!doctype html><html><head><title>不要</title><style>.x{}</style></head><body>
<header>‹ 返回 爱心人寿</header>
<main class="page">
  <section class="card"><h1 class="product">爱心人寿金福连连</h1>
    <dl><div><dt>保险单号</dt><dd>860007775808888</dd></div><div><dt>印花税</dt><dd>0.60 元</dd></div></dl></section>
  <form><input type="hidden" name="csrf_token" value="SECRET-TOKEN"><input name="request_key" type="hidden" value="k">
    <fieldset><legend>1. 您是否本人签名?</legend>
      <label><input type="radio" name="q_1" value="yes" checked><span>是</span></label>
      <label><input type="radio" name="q_1" value="no"><span>否</span></label></fieldset>
    <label>本次贷款金额<input name="amount" value="12000"></label>
    <label>开户银行<select name="bank"><option value="ICBC">工商银行</option><option value="CCB" selected>建设银行</option></select></label>
    <label>银行卡号<input name="card_no" value="6217000010111758507"></label>
    <label>验证码<input name="code" value="123456"></label>
    <label>服务密码<input type="password" name="password" value="258147"></label>
    <details><summary>《保单贷款协议》 版本 2026-11</summary><ol><li>第一条</li><li>第二条</li></ol></details>
    <label><input type="checkbox" name="agreed" checked> 我已阅读并同意</label>
    <button type="submit">确认</button>
  </form>
  <script>var secret = 1;</script>
</main>
<footer>客服热线</footer></body></html>"""


def test_page_text_keeps_what_was_shown_and_leaves_secrets_out():
    text = screens.page_text(PAGE)
    lines = text.split("\n")
    assert "爱心人寿金福连连" in lines and "保险单号: 860007775808888" in lines and "印花税: 0.60 元" in lines
    assert "1. 您是否本人签名?" in lines and "[x] 是" in lines and "[ ] 否" in lines
    assert "本次贷款金额 [12000]" in lines and "开户银行 [建设银行]" in lines
    assert "银行卡号 [***************8507]" in lines
    assert "《保单贷款协议》 版本 2026-11" in lines and "1. 第一条" in lines and "2. 第二条" in lines
    assert "[x] 我已阅读并同意" in lines
    for hidden in ("SECRET-TOKEN", "123456", "258147", "6217000010111758507", "secret", "确认", "不要", "客服热线",
                   "返回", "工商银行"):
        assert hidden not in text, hidden


def test_page_text_of_a_page_without_main_is_its_whole_text():
    assert screens.page_text("<p>甲</p><p>乙 <b>丙</b></p>") == "甲\n乙 丙"
    assert screens.page_text(("<main><p>甲</p></main><p>乙</p>", 200)) == "甲"


def test_record_keeps_the_text_and_its_sha256(seeded):
    policy = db.session.query(Policy).first()
    with unit.work():
        screen = screens.record("LOAN_CONFIRM", "保单贷款", "保险单号: 1\n印花税: 0.60 元", customer_id=policy.holder_id,
                                policy_id=policy.id, agreement_version="2026-11", ip="10.0.0.1", user_agent="UA")
    db.session.expire_all()
    kept = db.session.get(KeyScreen, screen.id)
    assert kept.text == "保险单号: 1\n印花税: 0.60 元" and screens.intact(kept)
    assert kept.text_sha256 == screens.sha256(kept.text) and len(kept.text_sha256) == 64
    assert kept.agreement_version == "2026-11" and kept.shown_at <= kept.agreed_at and kept.ip == "10.0.0.1"
    with pytest.raises(ValueError):
        screens.record("NOT_A_KIND", "x", "text")
    with pytest.raises(ValueError):
        screens.record("CONSENT", "x", "  ")
    db.session.rollback()


def test_the_reads_return_a_policys_task_and_application_screens_oldest_first(seeded):
    task = db.session.query(RevisitTask).first()
    policy = task.policy
    other = db.session.query(Policy).filter(Policy.id != policy.id).first()
    now = clock.now()
    application = ServicingApplication(application_no="T-SCREENS-1", kind="BENEFICIARY", customer_id=other.holder_id,
                                       policy_id=None, status="SUBMITTED", submitted_at=now)
    db.session.add(application)
    db.session.flush()
    db.session.add(ApplicationPolicy(application_id=application.id, policy_id=policy.id))
    with unit.work():
        late = screens.record("QUESTIONNAIRE", "在线回访", "问卷", revisit_task_id=task.id,
                              shown_at=now - timedelta(minutes=1), agreed_at=now)
        early = screens.record("BENEFICIARY_CONFIRM", "受益人变更", "名单", application_id=application.id,
                               shown_at=now - timedelta(minutes=5), agreed_at=now - timedelta(minutes=4))
        elsewhere = screens.record("LOAN_CONFIRM", "保单贷款", "贷款", policy_id=other.id, agreed_at=now)
    assert [s.id for s in screens.for_policy(policy.id)] == [early.id, late.id]
    assert [s.id for s in screens.for_task(task.id)] == [late.id]
    assert [s.id for s in screens.for_application(application.id)] == [early.id]
    assert elsewhere.id in [s.id for s in screens.for_policy(other.id)]
