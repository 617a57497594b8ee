"""Celery entry point: `celery -A app.celery_worker worker` and `celery -A app.celery_worker beat`."""
from app import create_app

flask_app = create_app()
celery_app = flask_app.extensions["celery"]
from app import tasks  # noqa: E402,F401
