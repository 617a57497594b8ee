"""The revisit task's workflow: one table of (status, event) -> new status.

Every write of RevisitTask.status goes through it: transition() for one task, or a set-based
UPDATE ... WHERE status IN sources_of(event) SET status = target_of(event). The status groups
the dashboard, the export, the boards and their templates use are derived from it, and
templates ask can(task, event) instead of testing statuses. The stored procedure
portal_claim_next (app/sql/) does the "claim" event; a test compares its literals with this table.

    PENDING --invite--> SMS_SENT --all_yes--> SUCCESS
                                 --any_no--> PROBLEM (a problem case for the phone)
                                 --choose_phone--> PHONE_QUEUE
    PENDING / SMS_SENT --expire (start of day 4)--> PHONE_QUEUE
    PHONE_QUEUE / PROBLEM / CALLBACK --claim--> IN_CALL
    IN_CALL / CALLBACK --call_<outcome>--> SUCCESS / PROBLEM / CALLBACK / PHONE_QUEUE
                       --tries_run_out--> LETTER_DUE (the letter revisit)
"""
from app.services.workflow import StateTable

# A failed call: the task goes back to the queue (LETTER_DUE instead when it was the last try).
FAILED_CALLS = ("NO_ANSWER", "BUSY", "INVALID_NUMBER", "REFUSED", "NOT_HOLDER")
HELD = ("IN_CALL", "CALLBACK")  # held by an agent: where a call is recorded

TRANSITIONS = {
    # online (services/revisit)
    ("PENDING", "invite"): "SMS_SENT",
    ("PENDING", "expire"): "PHONE_QUEUE",
    ("SMS_SENT", "expire"): "PHONE_QUEUE",
    ("SMS_SENT", "all_yes"): "SUCCESS",
    ("SMS_SENT", "any_no"): "PROBLEM",
    ("SMS_SENT", "choose_phone"): "PHONE_QUEUE",  # the customer keeps the right to choose (2020 notice)
    # the phone queue (services/phone_revisit)
    ("PHONE_QUEUE", "claim"): "IN_CALL",
    ("PROBLEM", "claim"): "IN_CALL",  # a problem case not yet called
    ("CALLBACK", "claim"): "IN_CALL",  # the agent's own booked callback
    ("IN_CALL", "give_back"): "PHONE_QUEUE",  # the agent puts their call back
    ("IN_CALL", "release"): "PHONE_QUEUE",  # a supervisor puts a held task or a problem case back
    ("CALLBACK", "release"): "PHONE_QUEUE",
    ("PROBLEM", "release"): "PHONE_QUEUE",
    ("PHONE_QUEUE", "assign"): "IN_CALL",  # a supervisor assigns or reassigns
    ("IN_CALL", "assign"): "IN_CALL",
    ("PROBLEM", "assign"): "IN_CALL",
    ("CALLBACK", "assign"): "CALLBACK",  # a booked callback keeps its time, with its new agent
    ("IN_CALL", "reservation_lapse"): "PHONE_QUEUE",  # idle past CLAIM_RESERVATION_MINUTES
    ("CALLBACK", "callback_lapse"): "PHONE_QUEUE",  # its time plus CALLBACK_GRACE_MINUTES passed
    # each outcome of a call
    **{(held, event): target for held in HELD for event, target in (
        ("call_success", "SUCCESS"),
        ("call_problem", "PROBLEM"),
        ("call_callback", "CALLBACK"),
        *((f"call_{outcome.lower()}", "PHONE_QUEUE") for outcome in FAILED_CALLS),
        ("tries_run_out", "LETTER_DUE"),  # the last failed try: a letter revisit is due
    )},
}

TABLE = StateTable(TRANSITIONS, "task_bad_transition")
STATUSES, EVENTS = TABLE.statuses, TABLE.events
sources_of, targets_of, target_of = TABLE.sources_of, TABLE.targets_of, TABLE.target_of
transition, can = TABLE.transition, TABLE.can


def call_event(outcome, tries_run_out=False):
    """The event of a recorded call outcome (CALL_OUTCOMES)."""
    return "tries_run_out" if tries_run_out and outcome in FAILED_CALLS else f"call_{outcome.lower()}"


# The groups the rest of the portal reads, all derived from the table.
CLOSED = targets_of("all_yes", "call_success")  # the visit is done: the policy may get a new task
OPEN = tuple(s for s in STATUSES if s not in CLOSED)
STILL_ONLINE = sources_of("expire")  # the e-revisit may still be answered
RESULTS = targets_of("all_yes", "any_no", "call_success", "call_problem", "tries_run_out")
PHONE_OPEN = sources_of("assign")  # on the supervisors' board, assignable
LETTER = targets_of("tries_run_out")
BOARD = PHONE_OPEN + LETTER  # what the supervision board lists
PHONE_FAILED = LETTER  # the phone visit ended without success
ANSWERED = targets_of("all_yes", "any_no")  # the online questionnaire was submitted
