"""A fake WeChat OAuth2 (official-account web authorisation) on loopback.

GET /connect/oauth2/authorize?appid&redirect_uri&response_type=code&scope&state — what WeChat does
when the user opens the page inside WeChat with scope snsapi_base: no consent screen, a 302 back to
redirect_uri with ?code=...&state=... for the openid the test chose (`next_openid`).
GET /sns/oauth2/access_token?appid&secret&code&grant_type=authorization_code — exchanges a code
once for {"access_token", "expires_in", "refresh_token", "openid", "scope"}; errors come as HTTP 200
with {"errcode": 40029, "errmsg": "invalid code"} like WeChat's.
"""
import json
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit


class FakeWeChat:
    def __init__(self, app_id="wx-test-appid", app_secret="wx-test-secret"):
        self.app_id, self.app_secret = app_id, app_secret
        self.next_openid = "oFake-openid-0001"
        self.codes = {}  # code -> openid, spent on exchange
        self.requests = []  # (path, params) of every request received
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self):
        host, port = self._server.server_address
        return f"http://{host}:{port}"

    def config(self):
        return {"WECHAT_APP_ID": self.app_id, "WECHAT_APP_SECRET": self.app_secret,
                "WECHAT_OAUTH_AUTHORIZE_URL": self.base_url + "/connect/oauth2/authorize",
                "WECHAT_API_BASE": self.base_url}

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._server.shutdown()
        self._server.server_close()

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _json(self, body):
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json; encoding=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                parts = urlsplit(self.path)
                params = {k: v[0] for k, v in parse_qs(parts.query).items()}
                fake.requests.append((parts.path, params))
                if parts.path == "/connect/oauth2/authorize":
                    if params.get("appid") != fake.app_id or params.get("scope") not in ("snsapi_base",
                                                                                        "snsapi_userinfo"):
                        return self._json({"errcode": 10003, "errmsg": "redirect_uri or appid invalid"})
                    code = secrets.token_hex(16)
                    fake.codes[code] = fake.next_openid
                    target = params["redirect_uri"]
                    target += ("&" if "?" in target else "?") + urlencode({"code": code, "state": params.get("state", "")})
                    self.send_response(302)
                    self.send_header("Location", target)
                    self.end_headers()
                    return None
                if parts.path == "/sns/oauth2/access_token":
                    if params.get("appid") != fake.app_id or params.get("secret") != fake.app_secret:
                        return self._json({"errcode": 40125, "errmsg": "invalid appsecret"})
                    if params.get("grant_type") != "authorization_code":
                        return self._json({"errcode": 40002, "errmsg": "invalid grant_type"})
                    openid = fake.codes.pop(params.get("code", ""), None)
                    if openid is None:
                        return self._json({"errcode": 40029, "errmsg": "invalid code"})
                    return self._json({"access_token": secrets.token_hex(16), "expires_in": 7200,
                                       "refresh_token": secrets.token_hex(16), "openid": openid,
                                       "scope": "snsapi_base"})
                self.send_response(404)
                self.end_headers()
                return None

        return Handler
