"""No request answers 500 (issue 9, hole 12) and no `next` leaves the site (hole 3): the requests the
probe found, and every id-taking URL of every registered view with ids no row can have."""
import re
from urllib.parse import quote

import pytest

from tests.conftest import login
from tests.views.test_intake_api import token

BIG = "99999999999999999999999"  # beyond 64 bits


def text(response):
    return response.get_data(as_text=True)


def refused(response, status=None):
    """A clear 4xx: the status the user gets, and no traceback in the body."""
    assert 400 <= response.status_code < 500, (response.status_code, text(response)[:300])
    assert status is None or response.status_code == status
    assert "Traceback" not in text(response)
    return response


# --- hole 3: redirects ----------------------------------------------------------------------------

HOSTILE_NEXT = ["/%09/evil.example", "//evil.example", "/%5Cevil.example", "/\\evil.example", "///evil.example",
                "http:evil.example", "javascript:alert(1)", "/%0A/evil.example", "/%0D%0ALocation:%20http://evil",
                "/%2F%2Fevil.example", "https://evil.example/"]


def _leaves_site(response):
    location = response.headers.get("Location", "")
    return bool(re.match(r"^(?:[a-z]+:)?[/\\]{2}|^[/\\][/\\]|^[a-z]+:", location, re.I)) and \
        not location.startswith("http://localhost/")


@pytest.mark.smoke
@pytest.mark.parametrize("target", HOSTILE_NEXT)
@pytest.mark.parametrize("page", ["/language/zh", "/language/en", "/my/signin", "/login/", "/lang/zh"])
def test_no_next_leads_off_the_site(app, client, page, target):
    response = client.get(f"{page}?next={target if '%' in target else quote(target, safe='')}")
    assert response.status_code < 500
    assert not _leaves_site(response), response.headers.get("Location")


@pytest.mark.parametrize("target", HOSTILE_NEXT)
def test_fab_login_of_a_signed_in_user_does_not_redirect_off_the_site(seeded, client, target):
    login(client, "admin")  # a signed-in user on /login/ is sent straight to `next`
    response = client.get(f"/login/?next={target if '%' in target else quote(target, safe='')}")
    assert response.status_code < 500
    assert not _leaves_site(response), response.headers.get("Location")


def test_the_language_switch_still_returns_to_the_page(app, client):
    response = client.get("/language/en?next=" + quote("/s/AbC123?x=1", safe=""))
    assert response.status_code == 302 and response.headers["Location"] == "/s/AbC123?x=1"


def test_fab_login_still_returns_to_the_page_asked_for(seeded, client):
    response = client.get("/policyview/list/")
    assert response.status_code == 302  # to the login page, with next=<this page>
    assert client.get(response.headers["Location"]).status_code == 200


# --- hole 12 --------------------------------------------------------------------------------------

def test_an_unknown_action_answers_404_even_anonymously(seeded, client):
    refused(client.post("/policyview/action_post", data={"action": "nope", "rowid": "1"}))
    login(client, "admin")
    refused(client.post("/policyview/action_post", data={"action": "nope", "rowid": "1", "csrf_token": client.csrf}))
    refused(client.get("/policyview/action/nope/1"))


@pytest.mark.parametrize("url", [
    f"/policyview/show/{BIG}", f"/policyview/edit/{BIG}", f"/customerview/show/{BIG}", f"/customerview/photo/{BIG}",
    f"/revisittaskview/show/{BIG}", f"/workbench/task/{BIG}", f"/workbench/task/{BIG}/letter.pdf",
    f"/policyview/list/?page_PolicyView={BIG}", "/policyview/list/?page_PolicyView=abc",
    f"/policyview/list/?psize_PolicyView={BIG}", "/policyview/list/?_oc_PolicyView=zzz&_od_PolicyView=asc",
    f"/api/v1/policy/{BIG}", "/api/v1/policy/?q=(((", f"/api/v1/policy/?q=(page:{BIG})",
    "/api/v1/policy/?q=(page:-5,page_size:20)", "/api/v1/policy/?q=(0:",
    '/api/v1/policy/?q={"page":-174,"page_size":20}', '/api/v1/revisit_task/?q={"page_size":-1}',
    f"/api/v1/revisit_task/{BIG}", "/userstatschartview/chart/abc", "/users/download/x",
])
def test_out_of_range_ids_pages_and_queries_answer_4xx(seeded, client, url):
    login(client, "admin")
    response = refused(client.get(url))
    if not url.startswith("/api/"):
        assert re.search(r"[\u4e00-\u9fff]", text(response)), "a Chinese message for people"
    else:
        assert response.is_json


def test_every_id_taking_url_of_every_view_answers_4xx_for_impossible_ids(seeded, client, app):
    login(client, "admin")
    seen = 0
    for rule in app.url_map.iter_rules():
        args = [a for a in rule.arguments if a in ("pk", "name", "group_by") or a.endswith("_id")]
        if not args or set(rule.arguments) - set(args):
            continue
        for bad in (BIG, "-" + BIG):
            path = rule.rule
            for arg in rule.arguments:
                path = re.sub(r"<(?:[^:>]+:)?%s>" % arg, bad, path)
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                response = client.open(path, method=method, data={"csrf_token": client.csrf})
                assert response.status_code < 500, (method, path, text(response)[:200])
                seen += 1
    assert seen > 50


@pytest.mark.parametrize("body", ["[" * 100000, '{"a":' * 100000, "[" * 40 + "]" * 40])
def test_deeply_nested_json_answers_400(seeded, client, body):
    refused(client.post("/sms/report", data=body, content_type="application/json"), 400)
    reply = refused(client.post("/api/v1/intake/policies", data=body, content_type="application/json",
                                headers=token(client)), 400)
    assert reply.is_json and reply.get_json()["message"]


def test_a_premium_of_1e30_is_a_clear_error_naming_the_field(seeded, client):
    from tests.services.test_intake import policy_row

    reply = client.post("/api/v1/intake/policies", json={"policies": [policy_row(premium="1e30")]},
                        headers=token(client))
    refused(reply, 422)
    assert "保费" in reply.get_json()["errors"][0]["errors"][0]
