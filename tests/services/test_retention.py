"""Retention (issue 15 point 5): a policy's records are kept ten years after the contract ends, computed
from the reported termination day, else the term's end, and pending for a whole-life policy in force;
shown on the admin's policy page and list; nothing is deleted."""
import re
from datetime import date

import pytest

from app.extensions import db
from app.models import Policy, Product
from app.services import clock, retention
from tests.conftest import login


def _policy(status="IN_FORCE", term_years=None, effective=date(2020, 3, 1), ended=None):
    return Policy(status=status, issue_date=effective, effective_date=effective, contract_ended_on=ended,
                  product=Product(term_years=term_years))


def test_a_terminated_policy_ends_on_the_reported_day():
    policy = _policy("TERMINATED", term_years=20, ended=date(2024, 6, 30))
    assert retention.contract_end(policy) == (date(2024, 6, 30), "TERMINATED")
    assert retention.retention_end(policy) == date(2034, 6, 30)
    assert retention.describe(policy, today=date(2026, 1, 1)) == "2034-06-30(合同终止日 2024-06-30 起十年)"


def test_a_term_policy_ends_with_its_term():
    policy = _policy(term_years=20, effective=date(2021, 5, 12))
    assert retention.contract_end(policy) == (date(2041, 5, 12), "TERM_END")
    assert retention.retention_end(policy) == date(2051, 5, 12)
    assert "保险期间届满日 2041-05-12" in retention.describe(policy)
    # without an effective date, the term runs from the issue date
    policy.effective_date = None
    assert retention.contract_end(policy)[0] == date(2041, 5, 12)


def test_a_whole_life_policy_in_force_has_no_end_yet():
    policy = _policy(term_years=None)
    assert retention.contract_end(policy) == (None, "WHOLE_LIFE")
    assert retention.retention_end(policy) is None
    assert retention.describe(policy) == "合同终止后十年(终身保单,合同尚未终止)"
    unreported = _policy("TERMINATED", term_years=None)
    assert retention.describe(unreported) == "合同终止后十年(已终止,核心系统未报告终止日期)"
    # a terminated whole-life policy with its day: ten years from that day
    assert retention.retention_end(_policy("TERMINATED", ended=date(2025, 1, 2))) == date(2035, 1, 2)


def test_a_leap_day_lands_on_28_february():
    assert retention.retention_end(_policy("TERMINATED", ended=date(2024, 2, 29))) == date(2034, 2, 28)
    term = _policy(term_years=1, effective=date(2020, 2, 29))
    assert retention.contract_end(term)[0] == date(2021, 2, 28)
    assert retention.retention_end(term) == date(2031, 2, 28)


def test_an_expired_retention_says_so():
    policy = _policy("TERMINATED", ended=date(2010, 1, 1))
    assert retention.describe(policy, today=date(2026, 1, 1)).endswith(",已届满,可导出归档")


def test_the_policy_page_and_list_show_the_retention_end(seeded, client):
    policies = db.session.query(Policy).order_by(Policy.id).all()
    ended = policies[0]
    ended.status, ended.contract_ended_on = "TERMINATED", date(2025, 2, 28)
    db.session.commit()
    login(client, "admin")
    page = client.get(f"/policyview/show/{ended.id}").get_data(as_text=True)
    assert "记录保存期限" in page and "合同终止日" in page
    assert "2035-02-28(合同终止日 2025-02-28 起十年)" in page
    assert 'id="retention-note"' in page
    listing = client.get("/policyview/list/?psize_PolicyView=100").get_data(as_text=True)
    assert "记录保存期限" in listing and "2035-02-28" in listing
    for policy in policies[1:]:
        db.session.refresh(policy)
        expected = retention.describe(policy)
        assert expected in listing
        show = client.get(f"/policyview/show/{policy.id}").get_data(as_text=True)
        assert expected in show and retention.contract_end_text(policy) in show
    cells = re.findall(r"合同终止后十年[^<]*", listing)
    assert all("None" not in cell for cell in cells)
    assert "None" not in re.sub(r"<[^>]+>", " ", page).split("记录保存期限")[1][:200]


def test_intake_takes_the_reported_termination_day(seeded):
    from app.services import intake

    policy = db.session.query(Policy).order_by(Policy.id).first()
    holder = policy.holder
    row = {"policy_no": policy.policy_no, "product_code": policy.product.code,
           "issue_date": policy.issue_date.isoformat(), "effective_date": policy.effective_date.isoformat()
           if policy.effective_date else "", "status": "TERMINATED", "terminated_on": clock.today().isoformat(),
           "premium": str(policy.premium), "sum_assured": str(policy.sum_assured), "payment_mode": "SINGLE",
           "holder": {"name": holder.name, "gender": holder.gender, "birth_date": holder.birth_date.isoformat(),
                      "id_type": holder.id_type, "id_number": holder.id_number, "mobile": holder.mobile}}
    if policy.insured_id != policy.holder_id:
        insured = policy.insured
        row["insured"] = {"name": insured.name, "gender": insured.gender, "id_type": insured.id_type,
                          "birth_date": insured.birth_date.isoformat(), "id_number": insured.id_number,
                          "mobile": insured.mobile}
    intake.import_rows([row])
    db.session.expire_all()
    again = db.session.get(Policy, policy.id)
    assert (again.status, again.contract_ended_on) == ("TERMINATED", clock.today())
    # reported again without the day: the day on file stays
    intake.import_rows([{**row, "terminated_on": ""}])
    db.session.expire_all()
    assert db.session.get(Policy, policy.id).contract_ended_on == clock.today()
    with pytest.raises(intake.IntakeRejected):
        intake.import_rows([{**row, "terminated_on": "2999-01-01"}])


@pytest.mark.parametrize("user", ["admin", "auditor"])
def test_the_list_of_policies_past_their_retention_is_downloaded(seeded, client, user):
    import io

    from openpyxl import load_workbook

    from app.models import AuditEvent

    expired, live = db.session.query(Policy).order_by(Policy.id).limit(2).all()
    expired.status, expired.contract_ended_on = "TERMINATED", date(2012, 2, 29)
    db.session.commit()
    login(client, user)  # the auditor keeps the archive
    page = client.get(f"/policyview/show/{live.id}").get_data(as_text=True)
    assert 'id="retention-download"' in page
    reply = client.get("/policyview/retention.xlsx")
    assert reply.status_code == 200
    sheet = load_workbook(io.BytesIO(reply.data)).active
    rows = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert rows[0][0] == "保险单号" and len(rows) == 2
    assert rows[1][0] == expired.policy_no and rows[1][5] == "合同终止日"
    assert rows[1][6].date() == date(2022, 2, 28)
    event = db.session.query(AuditEvent).order_by(AuditEvent.id.desc()).first()
    assert (event.action, event.entity, event.after["rows"]) == ("export", "policy", 1)


def test_a_role_without_the_permission_gets_no_list(seeded, client):
    login(client, "operator")
    assert client.get("/policyview/retention.xlsx").status_code in (302, 403)
    policy = db.session.query(Policy).order_by(Policy.id).first()
    assert 'id="retention-download"' not in client.get(f"/policyview/show/{policy.id}").get_data(as_text=True)
