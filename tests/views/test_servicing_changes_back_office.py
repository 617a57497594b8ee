"""The back office of issue 12 (point 6, and point 4's versions): 年金领取方式变更 and 受益人变更 in the review
queue with the rule trace and the before → after per policy; the admin's lists of both; Auditors read and
never decide; the admin's policy page lists every beneficiary version with who, when and which application."""
import re
from datetime import timedelta
from decimal import Decimal

import pytest

from app.extensions import db
from app.models import Policy, ServicingApplication, User
from app.models.policy import Beneficiary
from app.models.servicing import ApplicationPolicy
from app.services import annuity, beneficiary, clock, unit
from app.services.servicing import application as service
from app.services.servicing import dispatch
from tests.conftest import csrf_token, login
from tests.services.test_slip import ANNUITY, FAIL, MA_YAN, completed

BAD = re.compile(r"\b(None|True|False)\b|\{'|object at 0x|ACCUMULATE|TO_UNIVERSAL|SPOUSE|ANNUITY_METHOD|BENEFICIARY")
TRACE = [("万能账户", True, "已有万能账户 U0001"), ("客户风险复核", False, "命中复核名单")]


def text(reply):
    return reply.get_data(as_text=True)


def section(html, marker, end="</table>"):
    return html.split(marker, 1)[1].split(end, 1)[0]


def visible(html):
    """The page without its scripts and tags (what a person reads)."""
    html = re.sub(r"<script.*?</script>|<style.*?</style>", "", html, flags=re.S)
    return re.sub(r"<[^>]+>", " ", html)


@pytest.fixture
def module_rows(monkeypatch):
    """annuity.changes and beneficiary.changes as their contract gives them; their approval a no-op here (the
    modules' own tests carry out the change)."""
    monkeypatch.setattr(annuity, "changes", lambda application: [
        {"policy_no": ANNUITY, "label": "年金领取方式", "before": "累积生息", "after": "转入万能账户"}])
    monkeypatch.setattr(beneficiary, "changes", lambda application: [
        {"policy_no": link.policy.policy_no, "label": "身故受益人", "before": "马配偶 配偶 100.00%",
         "after": "张伟 配偶 60.00%;张小明 子女 40.00%"} for link in application.policy_links])
    monkeypatch.setitem(dispatch.ON_APPROVED, "ANNUITY_METHOD", lambda application: None)
    monkeypatch.setitem(dispatch.ON_APPROVED, "BENEFICIARY", lambda application: None)


def in_review(kind, policy_nos, key):
    policies = [db.session.query(Policy).filter_by(policy_no=no).one() for no in policy_nos]
    with unit.work():
        found = service.submit(kind, policies[0].holder_id, policies[0].id, {}, TRACE, None, key)
        for one in policies:
            db.session.add(ApplicationPolicy(application_id=found.id, policy_id=one.id, before={}, after={}))
        application_id = found.id
    assert found.status == "REVIEW"
    return application_id


def test_both_items_wait_in_the_queue_with_their_before_and_after(seeded, client, module_rows):
    annuity_id = in_review("ANNUITY_METHOD", [ANNUITY], "a1")
    beneficiary_id = in_review("BENEFICIARY", [MA_YAN, ANNUITY], "b1")
    login(client, "operator")
    queue = text(client.get("/review-queue/"))
    rows = section(queue, 'id="review-queue"')
    assert "年金领取方式变更" in rows and "受益人变更" in rows
    assert "年金领取方式:累积生息 → 转入万能账户" in rows
    assert f"{MA_YAN}、{ANNUITY}" in rows and "张伟 配偶 60.00%" in rows
    assert not BAD.search(visible(rows))
    assert "受益人变更" in text(client.get("/review-queue/?kind=BENEFICIARY"))
    page = text(client.get(f"/review-queue/{beneficiary_id}"))
    trace = section(page, 'id="rule-trace"')
    assert "客户风险复核" in trace and "命中复核名单" in trace and "未通过" in trace
    changes = section(page, 'id="changes"')
    assert changes.count("马配偶 配偶 100.00%") == 2 and MA_YAN in changes and ANNUITY in changes
    assert "张伟 配偶 60.00%;张小明 子女 40.00%" in changes
    assert not BAD.search(visible(changes))
    page = text(client.get(f"/review-queue/{annuity_id}"))
    assert "累积生息" in section(page, 'id="changes"') and 'id="approve-form"' in page


def test_the_operator_approves_a_beneficiary_change_from_the_queue(seeded, client, module_rows):
    application_id = in_review("BENEFICIARY", [MA_YAN, ANNUITY], "b2")
    login(client, "operator")
    token = csrf_token(text(client.get(f"/review-queue/{application_id}")))
    done = client.post(f"/review-queue/{application_id}/approve", data={"csrf_token": token, "note": "已核对"},
                       follow_redirects=True)
    assert "已审核通过" in text(done)
    db.session.expire_all()
    assert db.session.get(ServicingApplication, application_id).status == "APPROVED"


def test_an_auditor_reads_the_queue_and_the_application_but_cannot_decide(seeded, client, module_rows):
    application_id = in_review("ANNUITY_METHOD", [ANNUITY], "a2")
    login(client, "auditor")
    assert "累积生息 → 转入万能账户" in text(client.get("/review-queue/"))
    page = text(client.get(f"/review-queue/{application_id}"))
    assert "客户风险复核" in page and "转入万能账户" in section(page, 'id="changes"')
    assert 'id="approve-form"' not in page and 'id="reject-form"' not in page
    token = client.csrf  # a valid token of this session: the refusal is the permission's
    for action, data in (("approve", {"note": "x"}), ("reject", {"reason": "OTHER", "note": "x"})):
        reply = client.post(f"/review-queue/{application_id}/{action}", data={"csrf_token": token, **data})
        assert reply.status_code in (302, 403), action
    db.session.expire_all()
    found = db.session.get(ServicingApplication, application_id)
    assert found.status == "REVIEW" and not found.approvals


@pytest.mark.parametrize("user", ["admin", "auditor", "supervisor"])
def test_the_lists_of_annuity_and_beneficiary_changes(seeded, client, module_rows, user):
    """Needs the lead's grants: AnnuityChangeView and BeneficiaryChangeView (can_list, can_show) and their
    menus for Supervisor and Auditor (Admin has every permission)."""
    annuity_id = completed("ANNUITY_METHOD", [ANNUITY], [({}, {})], key="l1")
    beneficiary_id = completed("BENEFICIARY", [MA_YAN, ANNUITY], [({}, {})] * 2, checks=FAIL, key="l2")
    db.session.commit()
    numbers = {row.id: row.application_no for row in db.session.query(ServicingApplication)}
    login(client, user)
    listed = text(client.get("/annuitychangeview/list/"))
    assert numbers[annuity_id] in listed and numbers[beneficiary_id] not in listed
    assert "累积生息 → 转入万能账户" in listed and "已办结" in listed
    assert f"/review-queue/{annuity_id}" in listed
    listed = text(client.get("/beneficiarychangeview/list/"))
    assert numbers[beneficiary_id] in listed and numbers[annuity_id] not in listed
    assert "张伟 配偶 60.00%" in listed
    body = section(listed, "<table", "</table>")
    assert not BAD.search(visible(body))
    shown = text(client.get(f"/annuitychangeview/show/{annuity_id}"))
    assert "累积生息 → 转入万能账户" in shown and numbers[annuity_id] in shown
    assert not BAD.search(visible(section(shown, '<div id="Home"', "</table>")))
    for url in ("/annuitychangeview/add", f"/annuitychangeview/edit/{annuity_id}",
                f"/beneficiarychangeview/delete/{beneficiary_id}"):
        assert client.get(url).status_code in (302, 403, 404, 405), url


def _version(policy, version, name, relationship, share, created_at, superseded_at=None, application=None,
             created_by=None):
    template = db.session.query(Beneficiary).filter_by(policy_id=policy.id, kind="DEATH", version=1).first()
    db.session.add(Beneficiary(
        policy_id=policy.id, kind="DEATH", version=version, name=name, id_type="RESIDENT_ID",
        id_number=template.id_number, gender="M", birth_date=template.birth_date, relationship_to_insured=relationship,
        order=1, share=Decimal(share), created_at=created_at, superseded_at=superseded_at,
        application_id=application, created_by_id=created_by))


def test_the_policy_page_lists_every_beneficiary_version_with_who_when_and_which_application(seeded, client,
                                                                                             module_rows):
    policy = db.session.query(Policy).filter_by(policy_no=MA_YAN).one()
    application_id = completed("BENEFICIARY", [MA_YAN], [({}, {})], key="v1")
    number = db.session.get(ServicingApplication, application_id).application_no
    operator_id = db.session.query(User.id).filter_by(username="operator").scalar()
    now = clock.now().replace(microsecond=0)
    first_at, second_at = now - timedelta(days=2), now - timedelta(days=1)
    for row in db.session.query(Beneficiary).filter_by(policy_id=policy.id, kind="DEATH", version=1):
        row.superseded_at = first_at
    _version(policy, 2, "张伟", "SPOUSE", "60.00", first_at, second_at, application=application_id)
    _version(policy, 2, "张小明", "CHILD", "40.00", first_at, second_at, application=application_id)
    _version(policy, 3, "马小红", "CHILD", "100.00", second_at, created_by=operator_id)
    db.session.commit()
    for user in ("admin", "supervisor", "auditor", "operator"):
        client.get("/logout/")
        login(client, user)
        html = text(client.get(f"/policyview/show/{policy.id}"))
        versions = section(html, 'id="beneficiary-versions"')
        rows = {int(v): chunk for v, chunk in re.findall(r'data-version="(\d+)">(.*?)</tr>', versions, re.S)
                if "身故受益人" in chunk}
        assert set(rows) == {1, 2, 3}, user
        assert "核心系统(承保时)" in rows[1] and "马配偶" in rows[1] and "已失效" in rows[1]
        assert f"{first_at:%Y-%m-%d %H:%M}" in rows[1]
        assert "马妍(客户本人申请)" in rows[2] and number in rows[2] and f"/review-queue/{application_id}" in rows[2]
        assert "张伟 配偶" in rows[2] and "60.00%" in rows[2] and "张小明 子女" in rows[2]
        assert f"{first_at:%Y-%m-%d %H:%M}" in rows[2] and f"{second_at:%Y-%m-%d %H:%M}" in rows[2]
        assert "保全 专员(员工)" in rows[3] or "(员工)" in rows[3]
        assert "当前有效" in rows[3] and "马小红" in rows[3]
        assert not BAD.search(visible(versions)), user
