"""Every admin list and show page of 回访管理 and 系统管理 reads as Chinese for a person (issue 13, item 2):
no Python objects, dicts, True/None, FAB's __None choice or internal codes in the visible text."""
import re
from datetime import timedelta
from html.parser import HTMLParser

import pytest

from app.extensions import db
from app.models import RevisitTask
from app.models.identity import IdentityVerification
from app.models.revisit import CallAttempt, RevisitAnswer, RevisitEvidence
from app.services import clock
from tests.conftest import login
from tests.factories import make_task

BAD = re.compile(r"object at 0x|\{'|\b(None|True|False)\b|__None|link_opened|face_submitted|face_result"
                 r"|revisit_task|audit_event|identity_verification|\bupdate\b|\bcreate\b|PHONE_QUEUE|NO_ANSWER"
                 r"|Mozilla/5")
# a questionnaire's code (EREVISIT) is a name its editor chose; elsewhere it is the purpose's code
PURPOSE_CODE = re.compile(r"\bEREVISIT\b")
IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
          "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1")

OWN_LISTS = ["/revisittaskview/list/", "/revisitanswerview/list/", "/callattemptview/list/",
             "/revisitevidenceview/list/", "/revisitlinkview/list/", "/questionnairetemplateview/list/",
             "/questionview/list/", "/questionnaire-editor/", "/auditeventview/list/",
             "/identityverificationview/list/", "/settingview/list/"]


class _Text(HTMLParser):
    """The text a person sees: no scripts, styles, attributes, or a <details> body left closed."""

    def __init__(self):
        super().__init__()
        self.parts, self._skip = [], 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style") or self._skip:
            self._skip += 1 if tag not in ("br", "img", "input", "meta", "link", "hr") else 0

    def handle_endtag(self, tag):
        if self._skip and tag not in ("br", "img", "input", "meta", "link", "hr"):
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def visible_text(html):
    html = re.sub(r"<details.*?</details>", lambda m: re.sub(r"<summary>(.*?)</summary>.*", r"\1", m.group(0),
                                                             flags=re.S), html, flags=re.S)
    parser = _Text()
    parser.feed(html)
    return " ".join(" ".join(parser.parts).split())


def evidence_task():
    """A task with answers, a call attempt, e-revisit evidence and a face check."""
    task_id = make_task("880000002000001", assignee="agent1")
    task = db.session.get(RevisitTask, task_id)
    now = clock.now()
    agent = task.assigned_to_id
    attempt = CallAttempt(task_id=task_id, agent_id=agent, outcome="NO_ANSWER", started_at=now - timedelta(minutes=5),
                          ended_at=now, note=None)
    db.session.add(attempt)
    db.session.flush()
    for question in task.template.questions:
        db.session.add(RevisitAnswer(task_id=task_id, question_id=question.id, question_text=question.text,
                                     answer=True, channel="PHONE", attempt_id=attempt.id, answered_at=now,
                                     ip=None, user_agent=None))
    db.session.add(RevisitEvidence(task_id=task_id, step="link_opened", occurred_at=now, ip="10.0.0.1",
                                   user_agent=IPHONE, data=None))
    db.session.add(RevisitEvidence(task_id=task_id, step="face_result", occurred_at=now, ip="10.0.0.1",
                                   user_agent=IPHONE, data={"verification_id": 1, "status": "PASSED",
                                                            "passed": True, "error": None}))
    db.session.add(IdentityVerification(customer_id=task.policy.holder_id, kind="PHOTO", purpose="EREVISIT",
                                        status="FAILED", distance=0.61, created_at=now, completed_at=now,
                                        ip="10.0.0.1", user_agent=IPHONE,
                                        details={"threshold": 0.5, "reasons": ["face_mismatch"], "ok": False}))
    task.completed_at = now
    db.session.commit()
    return task_id


def _show_links(html, list_path):
    base = list_path.split("/list/")[0]
    return sorted(set(re.findall(rf'href="({re.escape(base)}/show/\d+)[^"]*"', html)))[:2]


def test_every_own_list_and_show_page_reads_as_chinese(seeded, client):
    task_id = evidence_task()
    login(client, "admin")
    problems = []
    pages = list(OWN_LISTS) + [f"/revisittaskview/show/{task_id}"]
    for path in OWN_LISTS:
        reply = client.get(path)
        assert reply.status_code == 200, path
        pages += _show_links(reply.get_data(as_text=True), path)
    for path in pages:
        reply = client.get(path)
        assert reply.status_code == 200, path
        html = reply.get_data(as_text=True)
        # FAB's empty choice is named (请选择), never shown as its value, also in the search box's JSON
        assert not re.search(r"__None(<|\\u003c)/option", html), path
        text = visible_text(html)
        found = list(BAD.finditer(text))
        if "questionnaire" not in path:
            found += list(PURPOSE_CODE.finditer(text))
        for match in found:
            problems.append((path, text[max(0, match.start() - 60):match.end() + 60]))
    assert not problems, "\n".join(f"{p}: …{t}…" for p, t in problems)


def test_the_settings_page_lists_every_business_setting(seeded, client):
    from app.services import settings

    login(client, "auditor")
    html = client.get("/settingview/list/").get_data(as_text=True)
    for key, spec in settings.SPECS.items():
        row = re.search(rf'<tr data-key="{key}">(.*?)</tr>', html, re.S)
        assert row and str(spec.label) in row.group(1), key
        cells = re.findall(r"<td>(.*?)</td>", row.group(1), re.S)
        assert len(cells) == 6 and all(cell.strip() for cell in (cells[1], cells[2], cells[5])), (key, cells)
