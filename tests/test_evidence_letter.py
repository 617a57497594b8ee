"""An evidence pack that holds a letter (issue 15, item 3): a policy whose phone revisit failed three times on
three days (claimed and recorded through services/phone_revisit, as the agents' workbench does) is due a letter
revisit; its pack holds the letter (services/letters.py's PDF) as a file listed in the signed manifest, the
summary's timeline names it after the calls that led to it, and the pack verifies."""
import hashlib
import io
import json
import zipfile
from datetime import timedelta

from app.extensions import db
from app.models import RevisitTask
from app.services import evidence, phone_revisit
from tests.services.test_evidence import pdf_text
from tests.services.test_phone_revisit import T0, _travel, phone_task, reload, user_id


def letter_due():
    """A fresh policy of 张德强 whose three phone tries (no answer, busy, number not in service) ran out."""
    agent = user_id("agent1")
    with _travel(T0):
        task_id = phone_task()
    for day, outcome in enumerate(("NO_ANSWER", "BUSY", "INVALID_NUMBER")):
        with _travel(T0 + timedelta(days=day, hours=1)):
            assert phone_revisit.claim_next(agent) == task_id
            phone_revisit.record_attempt(task_id, agent, outcome)
    task = reload(task_id)
    assert (task.status, task.channel) == ("LETTER_DUE", "LETTER")
    return task


def test_the_pack_of_a_policy_due_a_letter_holds_the_letter(seeded, app):
    task = letter_due()
    policy = task.policy
    with _travel(T0 + timedelta(days=3)):
        data, manifest = evidence.build("policy", policy.id, actor="auditor")
    archive = zipfile.ZipFile(io.BytesIO(data))
    name = f"letters/letter-task-{task.id}.pdf"

    # the letter itself, as services/letters.py makes it: the policy, the questions' reply slip
    assert name in archive.namelist()
    letter = pdf_text(archive.read(name)).replace("\n", "")
    assert policy.policy_no in letter and "信函回访" in letter and "回执" in letter
    assert f"回访任务编号 {task.id}" in letter

    # listed in the signed manifest with its hash and size, and the pack verifies
    listed = json.loads(archive.read("manifest.json"))
    entry = next(e for e in listed["files"] if e["path"] == name)
    content = archive.read(name)
    assert entry == {"path": name, "sha256": hashlib.sha256(content).hexdigest(), "size": len(content)}
    assert any(e["path"] == name for e in manifest["files"])
    public = evidence.signing_key(app.config)[0].public_key()
    problems, read = evidence.verify(data, public)
    assert problems == [] and read["subject"]["id"] == policy.id

    # the timeline: the three calls, then the letter (named by its file), in that order
    summary = pdf_text(archive.read("summary.pdf")).replace("\n", "")
    assert "信函回访" in summary and f"回访函:{name}" in summary, summary
    calls = [summary.find(outcome) for outcome in ("无人接听", "占线", "空号/停机")]
    assert -1 not in calls and calls == sorted(calls), calls
    assert summary.find(f"回访函:{name}") > calls[-1], "the letter is listed before the call that made it due"
    assert "回访函无法生成" not in summary


def test_a_task_pack_holds_its_letter(seeded, app):
    task = letter_due()
    with _travel(T0 + timedelta(days=3)):
        data, manifest = evidence.build("task", task.id, actor="supervisor")
    name = f"letters/letter-task-{task.id}.pdf"
    assert name in {entry["path"] for entry in manifest["files"]}
    summary = pdf_text(zipfile.ZipFile(io.BytesIO(data)).read("summary.pdf")).replace("\n", "")
    assert f"回访函:{name}" in summary
    assert db.session.get(RevisitTask, task.id).status == "LETTER_DUE"  # packing changes nothing
