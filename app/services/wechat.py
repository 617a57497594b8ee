"""WeChat official-account OAuth2 web authorisation, silent scope (snsapi_base -> openid).

The customer's browser goes to WECHAT_OAUTH_AUTHORIZE_URL; WeChat sends it back to our callback
with a one-time `code`, which the server exchanges for the openid at
WECHAT_API_BASE/sns/oauth2/access_token. Both addresses come from config so tests reach a fake
WeChat on loopback with the same HTTP client that production uses.
"""
import secrets
from urllib.parse import urlencode

import requests
from flask import current_app

from app.services.errors import DomainError

SCOPE = "snsapi_base"


def enabled():
    config = current_app.config
    return bool(config.get("WECHAT_APP_ID") and config.get("WECHAT_APP_SECRET"))


def new_state():
    return secrets.token_urlsafe(16)


def authorize_url(redirect_uri, state):
    """Where to send the browser; WeChat requires the parameters in this order and the fragment."""
    if not enabled():
        raise DomainError("wechat_not_configured")
    query = urlencode([("appid", current_app.config["WECHAT_APP_ID"]), ("redirect_uri", redirect_uri),
                       ("response_type", "code"), ("scope", SCOPE), ("state", state)])
    return f"{current_app.config['WECHAT_OAUTH_AUTHORIZE_URL']}?{query}#wechat_redirect"


def openid_for_code(code):
    """Exchange the callback's code for the user's openid; raise DomainError('wechat_failed')."""
    if not enabled():
        raise DomainError("wechat_not_configured")
    if not code or len(code) > 128:
        raise DomainError("wechat_failed")
    config = current_app.config
    url = config["WECHAT_API_BASE"].rstrip("/") + "/sns/oauth2/access_token"
    params = {"appid": config["WECHAT_APP_ID"], "secret": config["WECHAT_APP_SECRET"],
              "code": code, "grant_type": "authorization_code"}
    try:
        response = requests.get(url, params=params, timeout=config.get("WECHAT_TIMEOUT_SECONDS", 5))
        body = response.json()
    except (requests.RequestException, ValueError) as exc:
        current_app.logger.warning("wechat token exchange failed: %s", exc)
        raise DomainError("wechat_failed") from exc
    # WeChat answers errors with HTTP 200 and {"errcode": 40029, "errmsg": "invalid code"}.
    openid = body.get("openid") if isinstance(body, dict) else None
    if response.status_code != 200 or body.get("errcode") or not openid or len(openid) > 64:
        current_app.logger.warning("wechat token exchange refused: %s", body)
        raise DomainError("wechat_failed")
    return openid
