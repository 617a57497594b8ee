"""The customers' language switch: /language/<locale>?next=<this page>.

Flask-AppBuilder's own /lang/<locale> returns to the last back-office page; a customer must
come back to the phone page they were on. The locale is kept in the session, where
Flask-AppBuilder's locale selector reads it.
"""
from flask import Blueprint, abort, current_app, redirect, request, session

from app.services import urls

bp = Blueprint("language", __name__)


@bp.route("/language/<locale>")
def switch(locale):
    if locale not in current_app.config["LANGUAGES"]:
        abort(404)
    session["locale"] = locale
    # only a path on this site (services/urls.py): never an open redirect
    return redirect(urls.safe_next(request.args.get("next"), fallback="/"))
