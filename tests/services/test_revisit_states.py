"""The revisit task's one state table (app/services/revisit/states.py): the model's statuses are
exactly the table's, every state is reached, every event the workflow has is in it, and no code
writes a status of its own."""
import pathlib
import re

from app.models.revisit import CALL_OUTCOMES, TASK_STATUSES
from app.services.revisit import states

APP = pathlib.Path(__file__).resolve().parents[2] / "app"


def test_the_models_statuses_are_the_tables():
    assert set(TASK_STATUSES) == set(states.STATUSES)
    assert "FAILED" not in TASK_STATUSES and "CANCELLED" not in TASK_STATUSES  # no event reached them


def test_every_state_is_reached_from_a_new_task():
    reached, frontier = {"PENDING"}, ["PENDING"]
    while frontier:
        status = frontier.pop()
        for (source, _), target in states.TRANSITIONS.items():
            if source == status and target not in reached:
                reached.add(target)
                frontier.append(target)
    assert reached == set(states.STATUSES)


def test_every_event_of_the_workflow_is_in_the_table():
    online = {"invite", "all_yes", "any_no", "choose_phone", "expire"}
    phone = {"claim", "give_back", "release", "assign", "reservation_lapse", "callback_lapse", "tries_run_out"}
    calls = {states.call_event(outcome) for outcome in CALL_OUTCOMES}
    assert set(states.EVENTS) == online | phone | calls
    # each call outcome from a held task, and the letter once the tries run out
    assert states.transition("IN_CALL", states.call_event("NO_ANSWER", tries_run_out=True)) == "LETTER_DUE"
    assert states.transition("CALLBACK", states.call_event("SUCCESS", tries_run_out=True)) == "SUCCESS"


def test_groups_are_derived_from_the_table():
    assert states.OPEN == ("PENDING", "SMS_SENT", "PHONE_QUEUE", "PROBLEM", "IN_CALL", "CALLBACK", "LETTER_DUE")
    assert set(states.RESULTS) == {"SUCCESS", "PROBLEM", "LETTER_DUE"}
    assert set(states.PHONE_OPEN) == {"PHONE_QUEUE", "IN_CALL", "CALLBACK", "PROBLEM"}
    assert set(states.STILL_ONLINE) == {"PENDING", "SMS_SENT"}


def test_no_code_writes_a_revisit_status_of_its_own():
    """A status is written from the table (transition, target_of), never as a literal."""
    literal = re.compile(r"\bstatus\s*=\s*[\"'](%s)[\"']" % "|".join(states.STATUSES))
    places = [APP / "services" / "revisit", APP / "services" / "phone_revisit", APP / "views" / "workbench.py",
              APP / "services" / "dashboard.py", APP / "services" / "export.py"]
    offenders = []
    for place in places:
        for path in ([place] if place.is_file() else sorted(place.glob("*.py"))):
            if path.name == "states.py":
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if literal.search(line):
                    offenders.append(f"{path.relative_to(APP)}:{number}: {line.strip()}")
    assert offenders == []
