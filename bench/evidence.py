"""The evidence pack of a policy with its whole history, on a MariaDB of our own (prints the figures; not a
test). Issue 15's target: a policy with its whole history packed in under 2 s.

    .venv/bin/python bench/evidence.py [--runs 5] [--faces ../shared/testdata/faces] [--save PACK.zip]

Seeds the demo data, then gives 张德强's policy 880000001522216 a full history:
- the e-revisit through the customer pages (test client): the SMS link opened, the selfie (obama2.jpg against
  the reference obama.jpg: a real face check), both questionnaires answered, so the answers, the trail, the
  verification, the key screens the pages keep and their audit events are the portal's own;
- a phone attempt (无人接听) by agent1 on its task;
- a completed policy loan (application with its rule trace, a face check with a selfie, two ID card images,
  the loan, its ledger: 放款到账 and a repayment with its payment result) and a completed beneficiary change
  (application, the old version superseded, a new one), written through the ORM (so audited) the way the
  servicing code leaves them;
then times evidence.build("policy", ...) `--runs` times (the first includes loading the CJK font) and one
download through /evidence/policy/<id>.zip as admin (which also writes the audit event), and checks the pack
with evidence.verify.
"""
import argparse
import io
import os
import re
import statistics
import sys
import tempfile
import time
import zipfile
from datetime import timedelta
from decimal import Decimal

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tests import harness  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
POLICY_NO = "880000001522216"


def _csrf(html):
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)


def _erevisit(app, faces):
    """张德强's e-revisit through his SMS link, as a customer's phone would do it."""
    from app.extensions import db
    from app.models import Customer, Policy, RevisitLink, RevisitTask
    from app.services import biometric, identity, revisit, unit

    revisit.issue_invitations()
    customer = db.session.query(Customer).filter_by(customer_no="C0001").one()
    with open(os.path.join(faces, "obama.jpg"), "rb") as handle:
        identity.attach_reference_photo(customer.id, handle.read())
    db.session.commit()
    with unit.work():  # 同意并继续 on the biometric notice, before his first face check of each purpose
        for purpose in biometric.PURPOSES:
            biometric.agree(customer.id, purpose, ip="127.0.0.1", user_agent="bench")
    code = db.session.query(RevisitLink.code).filter_by(customer_id=customer.id).scalar()
    client = app.test_client()
    page = client.get(f"/s/{code}", headers={"User-Agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) "
                                                          "AppleWebKit/605.1.15 Version/17.0 Mobile/15E148 Safari/604.1"})
    with open(os.path.join(faces, "obama2.jpg"), "rb") as handle:
        reply = client.post(f"/s/{code}/face", data={"csrf_token": _csrf(page.get_data(as_text=True)),
                                                      "photo": (io.BytesIO(handle.read()), "selfie.jpg")},
                            content_type="multipart/form-data", follow_redirects=True)
    assert "身份验证通过" in reply.get_data(as_text=True), "the face check did not pass"
    tasks = [t.id for t in db.session.query(RevisitTask).join(Policy, RevisitTask.policy_id == Policy.id)
             .filter(Policy.holder_id == customer.id).order_by(RevisitTask.id)]
    for task_id in tasks:
        html = client.get(f"/s/{code}/task/{task_id}").get_data(as_text=True)
        names = set(re.findall(r'name="(q_\d+)"', html))
        data = {"csrf_token": _csrf(html), "task_id": str(task_id), **{name: "yes" for name in names}}
        client.post(f"/s/{code}/task/{task_id}", data=data, follow_redirects=True)
    db.session.expire_all()


def _history(app, faces):
    """The phone attempt, the loan with its ledger and the beneficiary change, on the same policy."""
    from app.extensions import db
    from app.models import Policy, RevisitTask
    from app.models.identity import IdentityVerification
    from app.models.policy import Beneficiary
    from app.models.revisit import CallAttempt
    from app.models.servicing import LoanLedgerEntry, LoanRepayment, PolicyLoan, ServicingApplication
    from app.services import clock, identity

    policy = db.session.query(Policy).filter_by(policy_no=POLICY_NO).one()
    now = clock.now()
    agent = app.appbuilder.sm.find_user(username="agent1")
    operator = app.appbuilder.sm.find_user(username="operator")
    task = db.session.query(RevisitTask).filter_by(policy_id=policy.id).one()
    db.session.add(CallAttempt(task_id=task.id, agent_id=agent.id, outcome="NO_ANSWER", note="响铃 60 秒无人接听",
                               started_at=now - timedelta(hours=3), ended_at=now - timedelta(hours=3) + timedelta(minutes=1)))
    with open(os.path.join(faces, "obama2.jpg"), "rb") as handle:
        selfie = handle.read()
    root = app.config["UPLOAD_DIR"]

    def store(sub, data, suffix):
        folder = os.path.join(root, "identity", sub, "bench")
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, f"{len(os.listdir(folder))}{suffix}")
        with open(path, "wb") as handle:
            handle.write(data)
        return os.path.relpath(path, root)

    check = IdentityVerification(customer_id=policy.holder_id, kind="PHOTO", purpose="LOAN", status="PASSED",
                                 evidence_path=store("selfies", selfie, ".jpg"), distance=0.41,
                                 details={"threshold": 0.5, "distance": 0.41}, ip="10.1.2.3",
                                 user_agent="Mozilla/5.0 (Linux; Android 14; Pixel 8) Chrome/120.0 Mobile",
                                 created_at=now - timedelta(hours=2), completed_at=now - timedelta(hours=2))
    db.session.add(check)
    db.session.flush()
    images = [store("id", selfie, ".jpg"), store("id", selfie, ".jpg")]
    trace = [{"name": "保单状态", "passed": True, "figures": "保单有效"},
             {"name": "可贷金额", "passed": True, "figures": "申请 5,000.00 元,可贷 6,000.00 元"},
             {"name": "人脸识别", "passed": True, "figures": "人脸距离 0.41,阈值 0.50"}]
    loan_app = ServicingApplication(
        application_no="BQ-BENCH-LOAN", kind="POLICY_LOAN", customer_id=policy.holder_id, policy_id=policy.id,
        status="COMPLETED", payload={"amount": "5000.00", "id_images": images,
                                     "account": {"bank": "中国工商银行", "card_no": "6222 **** **** 1234"}},
        submitted_at=now - timedelta(hours=2), decided_at=now - timedelta(hours=2), decided_by_system=True,
        completed_at=now - timedelta(hours=1), identity_verification_id=check.id, amount=Decimal("5000.00"),
        rule_trace=trace, slip_code="BENCH0001")
    db.session.add(loan_app)
    db.session.flush()
    today = clock.today()
    loan = PolicyLoan(application_id=loan_app.id, policy_id=policy.id, principal=Decimal("5000.00"),
                      stamp_duty=Decimal("2.50"), credited_amount=Decimal("4997.50"), annual_rate=Decimal("0.055"),
                      outstanding_principal=Decimal("4000.00"), interest_paid_to=today, status="ACTIVE",
                      disbursed_on=today, due_on=today + timedelta(days=182), bank_name="中国工商银行",
                      account_name="张德强", account_no_masked="6222 **** **** 1234")
    db.session.add(loan)
    db.session.flush()
    repayment = LoanRepayment(loan_id=loan.id, amount=Decimal("1000.00"), interest_part=Decimal("0.00"),
                              principal_part=Decimal("1000.00"), paid_at=now, result="PAID", payment_ref="PAY-BENCH-1")
    db.session.add(repayment)
    db.session.flush()
    db.session.add_all([
        LoanLedgerEntry(loan_id=loan.id, kind="DISBURSED", event_key=f"disbursed:{loan.id}", on_day=today,
                        principal_delta=Decimal("5000.00"), amount=Decimal("4997.50"), principal_after=Decimal("5000.00"),
                        interest_carried_after=Decimal("0"), interest_paid_to_after=today, actor="bench"),
        LoanLedgerEntry(loan_id=loan.id, kind="REPAYMENT", event_key=f"repayment:{repayment.id}", on_day=today,
                        principal_delta=Decimal("-1000.00"), amount=Decimal("1000.00"),
                        principal_after=Decimal("4000.00"), interest_carried_after=Decimal("0"),
                        interest_paid_to_after=today, repayment_id=repayment.id, actor="payment-system")])
    ben_app = ServicingApplication(
        application_no="BQ-BENCH-BEN", kind="BENEFICIARY", customer_id=policy.holder_id, policy_id=policy.id,
        status="COMPLETED", payload={}, submitted_at=now - timedelta(minutes=50), decided_at=now - timedelta(minutes=40),
        decided_by_id=operator.id, completed_at=now - timedelta(minutes=40), slip_code="BENCH0002",
        rule_trace=[{"name": "理赔报案", "passed": True, "figures": "无"}])
    db.session.add(ben_app)
    db.session.flush()
    for b in db.session.query(Beneficiary).filter_by(policy_id=policy.id, superseded_at=None):
        b.superseded_at = now - timedelta(minutes=40)
    old = max([b.version for b in db.session.query(Beneficiary).filter_by(policy_id=policy.id)] or [0])
    for order, (name, share) in enumerate((("张小明", "60.00"), ("李秀英", "40.00")), 1):
        db.session.add(Beneficiary(policy_id=policy.id, kind="DEATH", version=old + 1, name=name,
                                   id_type="RESIDENT_ID", id_number=f"11010119900101{order:03d}X"[:18], gender="M",
                                   birth_date=today - timedelta(days=30 * 365), relationship_to_insured="CHILD",
                                   order=1, share=Decimal(share), created_at=now - timedelta(minutes=40),
                                   application_id=ben_app.id, created_by_id=operator.id))
    db.session.commit()
    return policy.id


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--faces", default=os.environ.get("PORTAL_TEST_FACES") or
                        os.path.normpath(os.path.join(ROOT, "..", "shared", "testdata", "faces")))
    parser.add_argument("--save", metavar="PACK.zip", help="also write the pack there (to read its summary.pdf)")
    options = parser.parse_args()
    base = tempfile.mkdtemp(prefix="bench-evidence-")
    server = harness.start_mariadb(base)
    try:
        from flask_migrate import upgrade

        from app import create_app
        from app.extensions import db
        from app.services import audit, demo, evidence

        app = create_app({"SQLALCHEMY_DATABASE_URI": server.url, "UPLOAD_DIR": os.path.join(base, "up"),
                          "SECRET_KEY": "bench-secret-key-that-is-long-enough-0123456789",
                          "RATELIMIT_STORAGE_URI": "memory://", "SESSION_FILE_DIR": os.path.join(base, "sessions"),
                          "SMS_BACKEND": "outbox",
                          "CELERY": {"broker_url": "memory://", "task_always_eager": True,
                                     "task_eager_propagates": True, "task_ignore_result": True}})
        with app.app_context():
            with audit.acting_as("bench"):
                upgrade()
                from app.security import sync_roles

                sync_roles(app.appbuilder)
                demo.seed("Bench@2026")
            _erevisit(app, options.faces)
            with audit.acting_as("bench"):
                policy_id = _history(app, options.faces)
            db.session.remove()

            timings = []
            for _ in range(options.runs):
                started = time.perf_counter()
                data, manifest = evidence.build("policy", policy_id, actor="bench")
                timings.append(time.perf_counter() - started)
                db.session.remove()
            problems, _ = evidence.verify(data, evidence.signing_key(app.config)[0].public_key())
            names = zipfile.ZipFile(io.BytesIO(data)).namelist()
            if options.save:
                with open(options.save, "wb") as handle:
                    handle.write(data)
            print(f"pack of policy {POLICY_NO}: {len(names)} files, {len(data) / 1024:.0f} KiB "
                  f"({', '.join(sorted({n.split('/')[0] for n in names}))}); verify: "
                  f"{'intact' if not problems else problems}")
            print(f"evidence.build: first {timings[0]:.3f} s, median {statistics.median(timings):.3f} s, "
                  f"max {max(timings):.3f} s over {len(timings)} runs (target < 2 s)")

        client = app.test_client()
        page = client.get("/login/").get_data(as_text=True)
        client.post("/login/", data={"username": "admin", "password": "Bench@2026", "csrf_token": _csrf(page)})
        started = time.perf_counter()
        reply = client.get(f"/evidence/policy/{policy_id}.zip")
        seconds = time.perf_counter() - started
        print(f"GET /evidence/policy/{policy_id}.zip as admin (with its audit event): {reply.status_code}, "
              f"{len(reply.data) / 1024:.0f} KiB in {seconds:.3f} s")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
