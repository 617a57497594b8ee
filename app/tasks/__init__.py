"""Celery tasks: thin wrappers that call a service with ids."""
from app.tasks import sms  # noqa: F401
from app.tasks import revisit  # noqa: F401
from app.tasks import identity  # noqa: F401
from app.tasks import phone_revisit  # noqa: F401
from app.tasks import servicing  # noqa: F401
from app.tasks import sweep  # noqa: F401
from app.tasks import audit  # noqa: F401
