"""Development entry point: `python run.py` (or `make run`)."""
import os

from werkzeug.serving import WSGIRequestHandler

from app import create_app

app = create_app()

if __name__ == "__main__":
    # no server or Python version in the Server header (gunicorn sends only its name)
    WSGIRequestHandler.server_version = "portal"
    WSGIRequestHandler.sys_version = ""
    app.run(host=os.environ.get("HOST", "127.0.0.1"), port=int(os.environ.get("PORT", "5000")))
