"""Extension singletons, initialised inside create_app()."""
from celery import Celery, Task
from flask import Flask
from flask_appbuilder import Model
from flask_appbuilder.models.sqla.base import SQLA
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_migrate import Migrate

db = SQLA(model_class=Model)
migrate = Migrate()
limiter = Limiter(key_func=get_remote_address, default_limits=[])


def celery_init_app(app: Flask) -> Celery:
    """Flask's Celery pattern: every task runs inside an app context."""

    class FlaskTask(Task):
        def __call__(self, *args, **kwargs):
            with app.app_context():
                return self.run(*args, **kwargs)

    celery_app = Celery(app.name, task_cls=FlaskTask)
    celery_app.config_from_object(app.config["CELERY"])
    from app.tasks.schedule import beat_schedule

    celery_app.conf.beat_schedule = beat_schedule(app.config)
    celery_app.conf.include = ["app.tasks"]
    celery_app.set_default()
    app.extensions["celery"] = celery_app
    return celery_app
