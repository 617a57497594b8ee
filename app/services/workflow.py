"""A workflow's states in one table of (status, event) -> new status, shared by every workflow of the
portal (the revisit task, the servicing application; the loan next). Each workflow module declares its
table and reads sources, targets and moves through one StateTable (Superset's report executor)."""
from app.services.errors import DomainError


class StateTable:
    def __init__(self, transitions, bad_transition_key):
        self.transitions = dict(transitions)
        self.statuses = tuple(dict.fromkeys(s for pair, target in self.transitions.items()
                                            for s in (pair[0], target)))
        self.events = tuple(dict.fromkeys(event for _, event in self.transitions))
        self._bad_transition_key = bad_transition_key

    def sources_of(self, event):
        """The statuses `event` moves a row from (for WHERE status IN (...))."""
        return tuple(s for (s, e) in self.transitions if e == event)

    def targets_of(self, *events):
        return tuple(dict.fromkeys(t for (_, e), t in self.transitions.items() if e in events))

    def target_of(self, event):
        """The one status `event` moves every source to (a set-based UPDATE's SET status = ...)."""
        (target,) = self.targets_of(event)
        return target

    def transition(self, status, event):
        """The status after `event`, or a DomainError when the table has no such move."""
        try:
            return self.transitions[(status, event)]
        except KeyError:
            raise DomainError(self._bad_transition_key, status=status, event=event) from None

    def can(self, row_or_status, event):
        """Whether the table allows `event` on the row (or status); who may do it is the service's rule."""
        status = getattr(row_or_status, "status", row_or_status)
        return (status, event) in self.transitions
