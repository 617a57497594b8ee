"""年金领取方式变更 (issue 12 point 1; DOMAIN.md section 6). To be filled in."""


def on_approved(application):
    """Make the approved change and complete the application (services/servicing/dispatch.py)."""
    return None


def changes(application):
    """The slip's rows: [{"policy_no", "label", "before", "after"}] (services/slip.py)."""
    return []


def effective_on(application):
    """The date the change applies from (the slip states it)."""
    return None
