"""Development entry point: `python run.py` (or `make run`)."""
import os

from werkzeug.serving import WSGIRequestHandler

from app import create_app

app = create_app()

if __name__ == "__main__":
    # no server or Python version in the Server header (gunicorn sends only its name)
    WSGIRequestHandler.server_version = "portal"
    WSGIRequestHandler.sys_version = ""
    # the embedded default has no `celery beat`: its scheduled jobs run every minute in this process
    # (app/tasks/embedded.py; not in production, not with a broker, never under gunicorn)
    from app.tasks import embedded

    embedded.start(app)
    app.run(host=os.environ.get("HOST", "127.0.0.1"), port=int(os.environ.get("PORT", "5000")))
