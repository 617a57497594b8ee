"""The servicing application's workflow: one table of (status, event) -> new status.

Every write of ServicingApplication.status goes through it (transition() for one application, or a
set-based UPDATE ... WHERE status IN sources_of(event) SET status = target_of(event)); the groups the
queue, the customer's pages and the views read are derived from it, and templates ask can(app, event).

    SUBMITTED --need_consent--> CONSENT (the insured is not the policyholder: Insurance Law art. 34)
    SUBMITTED / CONSENT --auto_approve--> APPROVED (every check passed, within STP_MAX_AMOUNT)
                        --refer--> REVIEW (the operators' queue)
    CONSENT --consent_lapse--> REJECTED (the insured did not confirm in time)
            --consent_decline--> REJECTED (the insured said no)
    REVIEW --approve_first--> REVIEW (four eyes: the first of two approvals)
           --approve--> APPROVED
           --reject--> REJECTED
    SUBMITTED / CONSENT / REVIEW --cancel--> CANCELLED (the customer, before a decision)
    APPROVED --complete--> COMPLETED (the change is made, the money paid)
"""
from app.services.workflow import StateTable

TRANSITIONS = {
    ("SUBMITTED", "need_consent"): "CONSENT",
    ("SUBMITTED", "auto_approve"): "APPROVED",
    ("SUBMITTED", "refer"): "REVIEW",
    ("CONSENT", "auto_approve"): "APPROVED",
    ("CONSENT", "refer"): "REVIEW",
    ("CONSENT", "consent_lapse"): "REJECTED",
    ("CONSENT", "consent_decline"): "REJECTED",
    ("REVIEW", "approve_first"): "REVIEW",
    ("REVIEW", "approve"): "APPROVED",
    ("REVIEW", "reject"): "REJECTED",
    ("SUBMITTED", "cancel"): "CANCELLED",
    ("CONSENT", "cancel"): "CANCELLED",
    ("REVIEW", "cancel"): "CANCELLED",
    ("APPROVED", "complete"): "COMPLETED",
}

TABLE = StateTable(TRANSITIONS, "application_bad_transition")
STATUSES, EVENTS = TABLE.statuses, TABLE.events
sources_of, targets_of, target_of = TABLE.sources_of, TABLE.targets_of, TABLE.target_of
transition, can = TABLE.transition, TABLE.can


# The groups the rest of the portal reads, all derived from the table.
FIRST = "SUBMITTED"
UNDECIDED = sources_of("cancel")  # no decision yet: the customer may still cancel
IN_REVIEW = sources_of("approve")  # the operators' review queue
DECIDED = targets_of("auto_approve", "approve", "reject", "consent_lapse", "consent_decline")
APPROVED = targets_of("auto_approve", "approve")
TO_COMPLETE = sources_of("complete")  # approved, not yet carried out
IN_PROGRESS = UNDECIDED + TO_COMPLETE  # a policy with one of these takes no second application of its kind
CLOSED = tuple(s for s in STATUSES if not any(s == src for (src, _) in TRANSITIONS))  # no way out
