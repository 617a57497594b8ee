"""No request answers 500 (issue 9, hole 12): bad input is refused at the edge with a clear 4xx.

Covers whole classes rather than single pages: ids beyond what the database holds, Flask-AppBuilder's
list arguments (page, page size, order column) and action names, malformed or oversized rison in the
REST API's `?q=`, JSON nested deeper than any real payload, and hostile `next` targets (FAB's own
login takes one). What still breaks is logged by Flask and answered without a traceback.
"""
import json
import logging
import re

import prison
from flask import current_app, g, jsonify, render_template, request, url_for
from flask.json.provider import DefaultJSONProvider
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError, validate_csrf
from wtforms import ValidationError
from werkzeug.exceptions import InternalServerError
from werkzeug.routing import IntegerConverter

from app.extensions import db
from app.services import urls
from app.services.errors import DomainError

log = logging.getLogger(__name__)

MAX_ID = 2 ** 63 - 1  # BIGINT: anything larger cannot be a row's id
MAX_PAGE = 10 ** 6
MAX_PAGE_SIZE = 100
MAX_JSON_DEPTH = 32  # a policy with beneficiaries is 4 deep
MAX_RISON_NUMBER = 2 ** 53
_DIGITS = re.compile(r"-?\d+", re.ASCII)


# --- JSON bodies --------------------------------------------------------------------------------

def _too_deep(value, limit):
    """Iteratively (no recursion to exhaust): is any container nested deeper than `limit`?"""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (list, dict)):
            if depth > limit:
                return True
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return False


class BoundedJSONProvider(DefaultJSONProvider):
    """The app's JSON (Flask hands it to every request as request.json_module): loads() refuses
    deep nesting with a ValueError, which get_json() turns into None (silent) or a 400, instead of
    a RecursionError later (500)."""

    def loads(self, s, **kwargs):
        try:
            value = super().loads(s, **kwargs)
        except RecursionError:  # the C decoder gives up past the interpreter's recursion limit
            raise ValueError("JSON nested too deeply") from None
        if _too_deep(value, MAX_JSON_DEPTH):
            raise ValueError("JSON nested too deeply")
        return value


class BoundedIntConverter(IntegerConverter):
    """<int:...> in URLs: a number no row can have does not match (404), instead of overflowing
    the database driver (500)."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


# --- answers ------------------------------------------------------------------------------------

def _wants_json():
    return request.path.startswith("/api/") or request.is_json


CUSTOMER_BLUEPRINTS = {"customer_revisit", "consent", "account"}
CUSTOMER_PATHS = ("/s/", "/c/", "/my/")


def _customer_page():
    """The customer's phone pages (/s/, /c/, /my/) keep their own layout; everything else is staff's."""
    return request.blueprint in CUSTOMER_BLUEPRINTS or request.path.startswith(CUSTOMER_PATHS) \
        or request.path == "/my"


def _title(status):
    return {403: _("无权访问"), 404: _("内容不存在")}.get(status, _("请求无效"))


def staff_page(status, title, message):
    """A message in the back office's layout (menus, language, 用户信息), in the user's language."""
    appbuilder = current_app.appbuilder
    if "user" not in g:  # refused before Flask-AppBuilder's own before_request named the user
        from flask_login import current_user

        g.user = current_user._get_current_object()
    back = appbuilder.get_url_for_index
    return render_template("errors/staff_message.html", title=title, message=message, status=status,
                           back_url=back, appbuilder=appbuilder, base_template=appbuilder.base_template), status


def refuse(status, message):
    """A 4xx the user can read: JSON for machines, the customer's message page on the customer pages,
    the back office's layout everywhere else (never Werkzeug's English page)."""
    if _wants_json():
        return jsonify(message=message), status
    if not _customer_page():
        return staff_page(status, _title(status), message)
    return render_template("h5/message.html", title=_title(status), message=message, status="error"), status


def _not_found():
    return refuse(404, _("您要查看的内容不存在。"))


# --- checks before any view runs -----------------------------------------------------------------

def _view_instance():
    """The Flask-AppBuilder view (ModelView, ModelRestApi) behind this endpoint, if any."""
    function = current_app.view_functions.get(request.endpoint)
    return getattr(function, "__self__", None)


SAFE_NEXT_BLUEPRINTS = {"language", "account"}
FAB_PAGING = re.compile(r"^(page|psize)_[A-Z]\w*$")  # FAB: page_<ViewClass>


def _rison_problem(value):
    try:
        parsed = prison.loads(value)
    except RecursionError:  # prison recurses on "(((" instead of raising its ParserException
        return True
    except prison.decoder.ParserException:
        # Flask-AppBuilder then tries the same text as JSON (FAB_API_ALLOW_JSON_QS): check that too
        try:
            parsed = json.loads(value)
        except (ValueError, RecursionError):
            return False  # neither: Flask-AppBuilder answers its own 400
    except Exception:  # e.g. TypeError on "(0:", which Flask-AppBuilder does not catch (500)
        return True
    if isinstance(parsed, dict):
        # FAB passes page and page_size to OFFSET/LIMIT unchecked: a negative one is a 500
        for key in ("page", "page_size"):
            if key in parsed and (isinstance(parsed[key], bool) or not isinstance(parsed[key], int)
                                  or parsed[key] < (0 if key == "page" else 1)):
                return True
    stack = [(parsed, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            return True
        if isinstance(item, bool):
            continue
        if isinstance(item, (int, float)) and abs(item) > MAX_RISON_NUMBER:
            return True
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return False


def _check_fab_csrf():
    """Flask-AppBuilder's own forms (login, add, edit, delete, actions, user info) re-render the form
    without a word when the CSRF token is stale or forged: check it before they run, so the answer
    is the one clear page (_http_error). The portal's own views say it in their own words."""
    function = current_app.view_functions.get(request.endpoint)
    if request.method != "POST" or not getattr(function, "__module__", "").startswith("flask_appbuilder.") \
            or not current_app.config.get("WTF_CSRF_ENABLED", True) or request.path.startswith("/api/"):
        return
    try:
        validate_csrf(request.form.get("csrf_token"))
    except ValidationError as error:
        raise CSRFError(error.args[0]) from None


def check_request():
    _check_fab_csrf()
    # ids in the path (FAB's <pk> is a string): beyond BIGINT no row exists
    for name, value in (request.view_args or {}).items():
        if isinstance(value, str) and (name == "pk" or name.endswith("_id")) and _DIGITS.fullmatch(value):
            value = int(value)
        if isinstance(value, int) and not -MAX_ID <= value <= MAX_ID:
            return _not_found()
    # a `next` that could leave the site (FAB's login redirects to request.url: same host allowed)
    # The customer pages (language switch, /my/) send a foreign `next` to their own page instead
    # (urls.safe_next); Flask-AppBuilder's redirects are refused here.
    target = request.args.get("next")
    if target and request.blueprint not in SAFE_NEXT_BLUEPRINTS \
            and not urls.is_local(target, allowed_host=request.host):
        return refuse(400, _("跳转地址无效"))
    view = _view_instance()
    if view is None:
        return None
    # Flask-AppBuilder's list arguments are read with int() and passed to the database unchecked
    for name, value in request.args.items():
        # page_<View> / psize_<View> (a show page carries its related views' too); an API's own
        # page_size is its own business
        if FAB_PAGING.match(name):
            high = MAX_PAGE if name.startswith("page_") else MAX_PAGE_SIZE
            if not (value.isascii() and value.isdigit() and int(value) <= high):
                return refuse(400, _("分页参数无效:%(name)s", name=name))
        if "_oc_" in name and value not in (getattr(view, "order_columns", None) or ()):
            return refuse(400, _("排序字段无效:%(value)s", value=value[:40]))
    if request.endpoint.endswith((".action", ".action_post")):
        action = (request.view_args or {}).get("name") or request.form.get("action")
        if action not in (getattr(view, "actions", None) or {}):
            return _not_found()
    if request.endpoint.endswith(".download") and not current_app.config.get("UPLOAD_FOLDER"):
        return _not_found()  # FAB's file-column download: no model here has one
    if request.endpoint.endswith(".chart") and "group_by" in (request.view_args or {}):
        group_by = request.view_args["group_by"]
        if not (group_by.isascii() and group_by.isdigit() and int(group_by) < len(getattr(view, "definitions", ()))):
            return _not_found()
    q = request.args.get("q")
    if q and request.path.startswith("/api/") and _rison_problem(q):
        return refuse(400, _("查询参数 q 无效"))
    return None


# --- what still escapes --------------------------------------------------------------------------

def _overflow(error):
    # an id or number too large for the database driver: no such row
    log.info("refused a number too large for the database: %s", error)
    return _not_found()


def _http_error(error):
    """Werkzeug's English error pages (abort(400), a CSRF failure, a wrong method, an upload over
    MAX_CONTENT_LENGTH) as the portal's own Chinese page, or JSON for the API."""
    if isinstance(error, CSRFError):
        message = _("页面已过期,请重新提交。")
    elif error.code == 403:
        message = _("您没有权限执行此操作。")
    elif error.code == 405:
        message = _("不支持该请求方式。")
    elif error.code == 413:
        message = _("上传的文件过大,请上传不超过 %(mb)s MB 的文件。",
                    mb=(current_app.config.get("MAX_CONTENT_LENGTH") or 0) // (1024 * 1024))
    else:
        message = _("请求无效,请返回上一页重新操作。")
    return refuse(error.code, message)


def _recursion(error):
    log.info("refused input nested too deeply: %s", error)
    return refuse(400, _("提交的数据嵌套层次过深"))


def _domain_error(error):
    """A DomainError a view lets escape: the entry's message and status, as JSON for the API, in the
    customer's layout on the customer pages (/s/..., /my/...), else in the staff layout."""
    db.session.rollback()  # the refused operation's changes are never flushed by the page below
    message, status = error.message, error.status
    if _wants_json():
        return jsonify(message=message, code=error.key), status
    title = _("系统繁忙") if status >= 500 else _("温馨提示")
    if request.blueprint == "account":
        return render_template("account/message.html", title=title, message=message, status="error",
                               actions=[(url_for("account.center"), _("返回个人中心"))]), status
    if request.blueprint == "customer_revisit":
        return render_template("h5/message.html", title=title, message=message, status="error"), status
    appbuilder = current_app.appbuilder
    return render_template("errors/staff_message.html", title=title, message=message, appbuilder=appbuilder,
                           base_template=appbuilder.base_template), status


def _dependency_down(error):
    """The database (or Redis) unreachable: 503 with Retry-After, never a 500 (issue 14, item 8)."""
    from kombu.exceptions import OperationalError as BrokerDown
    from redis.exceptions import ConnectionError as RedisConnectionError, TimeoutError as RedisTimeout
    from sqlalchemy.exc import DBAPIError, TimeoutError as PoolTimeout

    if isinstance(error, (PoolTimeout, RedisConnectionError, RedisTimeout, BrokerDown)):
        return True
    # OperationalError (MariaDB gone, lost connection), a connection invalidated by a restart
    return isinstance(error, DBAPIError) and (error.connection_invalidated or type(error).__name__ in (
        "OperationalError", "InterfaceError"))


def _unexpected(error):
    """Flask has logged the exception already; the user gets a message, never a traceback. The API
    answers JSON whatever happened, even when the message cannot be translated (no database)."""
    original = getattr(error, "original_exception", None) or error
    status = 503 if _dependency_down(original) else 500
    try:
        db.session.rollback()
    except Exception:  # noqa: BLE001 - the database may be what is down
        pass
    try:
        message = _("系统繁忙,请稍后再试。如需帮助请致电客服%(hotline)s。", hotline=current_app.config["HOTLINE"])
        if _wants_json():
            response = jsonify(message=message)
        else:
            response = current_app.make_response(
                render_template("h5/message.html", title=_("系统繁忙"), message=message, status="error"))
    except Exception:  # noqa: BLE001 - the answer must not fail in turn (Werkzeug's HTML page)
        log.exception("the error page failed")
        text = "系统繁忙,请稍后再试。"
        response = jsonify(message=text) if request.path.startswith("/api/") else \
            current_app.response_class(f"<!doctype html><meta charset=utf-8><p>{text}</p>", mimetype="text/html")
    response.status_code = status
    if status == 503:
        response.headers["Retry-After"] = "30"
    return response


def _note_database_error(context):
    """SQLAlchemy's handle_error event: remember on the request that the database failed, so that an
    API answer Flask-AppBuilder made of it (its @safe turns any exception into 500 "Fatal error")
    becomes the 503 it is."""
    from flask import has_request_context

    error = context.sqlalchemy_exception if context.sqlalchemy_exception is not None else context.original_exception
    if has_request_context() and (context.is_disconnect or _dependency_down(error)
                                  or context.connection is None):
        g.dependency_down = True


def _api_dependency_down(response):
    if response.status_code == 500 and g.get("dependency_down") and request.path.startswith("/api/"):
        try:
            message = _("服务暂时繁忙,请稍后再试")
        except Exception:  # noqa: BLE001
            message = "服务暂时繁忙,请稍后再试"
        answer = jsonify(message=message)
        answer.status_code = 503
        answer.headers["Retry-After"] = "30"
        return answer
    return response


def _any_exception(error):
    """Under /api/ an exception no other handler takes (HTTP errors keep theirs) answers JSON too."""
    from werkzeug.exceptions import HTTPException

    if isinstance(error, HTTPException):
        return error
    if not request.path.startswith("/api/"):
        raise error  # pages: Flask's own path (logged, then _unexpected; propagated under TESTING)
    log.exception("unhandled exception on %s", request.path)
    return _unexpected(error)


def install(app):
    """Called once from create_app(), before any view is registered (the URL converter)."""
    app.json = BoundedJSONProvider(app)
    app.url_map.converters["int"] = BoundedIntConverter
    app.before_request(check_request)
    app.register_error_handler(404, lambda error: _not_found())  # in Chinese, JSON for the API
    for code in (400, 403, 405, 413):
        app.register_error_handler(code, _http_error)
    app.register_error_handler(OverflowError, _overflow)
    app.register_error_handler(RecursionError, _recursion)
    app.register_error_handler(DomainError, _domain_error)
    app.register_error_handler(InternalServerError, _unexpected)
    app.register_error_handler(Exception, _any_exception)
    app.after_request(_api_dependency_down)
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    if not event.contains(Engine, "handle_error", _note_database_error):
        event.listen(Engine, "handle_error", _note_database_error)
