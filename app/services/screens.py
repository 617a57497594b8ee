"""The key screens (issue 15 point 2): record(...) keeps what a customer was shown when they agreed;
for_policy / for_task / for_application read them back for the evidence pack and the back office.
To be filled in."""


def for_policy(policy_id):
    """Every key screen of a policy (its questionnaires, applications, consents), oldest first."""
    return []


def for_task(task_id):
    return []


def for_application(application_id):
    return []
