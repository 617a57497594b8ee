"""The electronic return visit (DOMAIN.md section 1): tasks, links, online answers, day-4 hand-over.

    states.py       the revisit task's one state table (the phone side's events included)
    creation.py     a task per issued policy that needs one
    questions.py    the task's frozen questionnaire, filled for its policy
    invitations.py  one link and one SMS per customer; the day-2 reminder
    online.py       the customer's answers, the choice of a phone visit, the evidence
    expiry.py       day 4: the unfinished e-revisits go to the phone queue

Bulk moves (claiming tasks for the invitations, the day-4 expiry) are conditional set-based
UPDATEs built from the state table: a row only moves when it is still in a state the event
moves from, so two runs at the same time move every task exactly once.
"""
from app.services.revisit.creation import (choose_template, create_task_for_policy, create_tasks_for_policies,
                                           erevisit_deadline, hesitation_deadline, open_task_counts)
from app.services.revisit.expiry import EXPIRABLE, expire_due
from app.services.revisit.invitations import issue_invitations, link_url, new_link_code, send_reminders
from app.services.revisit.online import (choose_phone_visit, link_by_code, link_progress, link_state,
                                         link_tasks, pending_tasks,
                                         record_evidence, submit_online_answers, task_for_link, trail)
from app.services.revisit.questions import PLACEHOLDER, fill, policy_values, render_questions
from app.services.revisit.states import OPEN as OPEN_STATUSES
from app.services.revisit.states import TRANSITIONS, can, transition

__all__ = ["create_task_for_policy", "create_tasks_for_policies", "render_questions", "issue_invitations",
           "link_by_code", "link_state", "link_tasks", "link_progress", "pending_tasks", "task_for_link", "submit_online_answers",
           "record_evidence", "choose_phone_visit", "expire_due", "send_reminders", "choose_template",
           "erevisit_deadline", "hesitation_deadline", "open_task_counts", "link_url", "new_link_code",
           "PLACEHOLDER", "fill", "policy_values", "OPEN_STATUSES", "EXPIRABLE", "TRANSITIONS", "can",
           "transition", "trail"]
