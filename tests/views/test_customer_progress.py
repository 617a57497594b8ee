"""What a customer notices on the phone pages (issue 13, items 7, 8 and 11), through the test client:
a finished link stays finished after the e-revisit window, an expired link names the policies left,
the questionnaire shows 第 x / n 题 and keeps the answers over a reload, every page has "‹ 返回" in the
top bar and the hotline as a tel: link, 账户认证 shows its steps, the liveness failure page says how
many tries are left, and the face intro is the seed's with 不再提示."""
import re
from datetime import timedelta

import pytest
import time_machine

from app.extensions import db
from app.models import Customer, IdentityVerification, Policy, RevisitLink, RevisitTask
from app.services import clock
from tests.biometric import agree_biometrics, agree_everyone
from tests.conftest import csrf_token
from tests.views.test_account import _session_celery, bind, customer, page, sign_in  # noqa: F401
from tests.views.test_customer_revisit import CLOSING_TEXT, _task_ids, _verify

HOTLINE = "10109520"


@pytest.fixture
def linked(seeded):
    from app.services import revisit

    revisit.issue_invitations()
    agree_everyone()  # the biometric notice was agreed to (tests/views/test_biometric_consent.py)
    return {c.customer_no: link.code for link, c in
            db.session.query(RevisitLink, Customer).join(Customer, RevisitLink.customer_id == Customer.id)}


@pytest.fixture
def invited(linked):
    from tests.views.test_customer_revisit import _photo
    from app.services import identity

    zhang = db.session.query(Customer).filter_by(customer_no="C0001").one()
    identity.attach_reference_photo(zhang.id, _photo("obama.jpg"))
    db.session.commit()
    return linked


def _complete(task_ids):
    """The visits completed (as the online all-是 or a successful call leaves them)."""
    for task in db.session.query(RevisitTask).filter(RevisitTask.id.in_(task_ids)):
        task.status, task.completed_at, task.open_policy_id = "SUCCESS", clock.now(), None
    db.session.commit()


def _link(code):
    return db.session.query(RevisitLink).filter_by(code=code).one()


# --- item 7: a finished visit stays finished ---------------------------------------------------

def test_a_finished_link_says_so_on_day_5_and_before(linked, client):
    code = linked["C0001"]
    _complete(_task_ids("C0001"))
    html = page(client.get(f"/s/{code}"))
    assert "您的回访已完成" in html and "开始验证" not in html
    link = _link(code)
    with time_machine.travel(link.expires_at + timedelta(days=1, hours=2), tick=False):  # day 5
        for path in (f"/s/{code}", f"/s/{code}/list"):
            response = client.get(path)
            html = page(response)
            assert response.status_code == 200
            assert "您的回访已完成" in html
            assert re.sub(r"<[^>]+>", "", CLOSING_TEXT) in re.sub(r"<[^>]+>", "", html)
            assert "已过期" not in html and "电话回访" not in html


def test_an_expired_link_names_the_policies_that_remain(linked, client):
    code = linked["C0001"]
    first, second = _task_ids("C0001")
    _complete([first])
    link = _link(code)
    with time_machine.travel(link.expires_at + timedelta(hours=1), tick=False):
        html = page(client.get(f"/s/{code}"))
    assert "电子化回访链接已过期" in html and "电话回访" in html
    remaining = html.split('id="remaining-policies"')[1].split("</ul>")[0]
    assert "爱心人寿爱鑫红两全保险(分红型)" in remaining
    assert "8800****2217" in remaining  # the policy left, its number masked before a face check
    assert "2216" not in remaining  # the finished one is not named


def test_a_half_done_link_is_not_called_finished(linked, client):
    code = linked["C0001"]
    _complete(_task_ids("C0001")[:1])
    html = page(client.get(f"/s/{code}"))
    assert "您的回访已完成" not in html and "开始验证" in html


# --- item 8: progress and answers kept ---------------------------------------------------------

def _checked(html):
    """{field name: value} of the ticked radios."""
    found = {}
    for tag in re.findall(r"<input[^>]*>", html):
        if 'type="radio"' in tag and re.search(r"\bchecked\b", tag):
            found[re.search(r'name="([^"]+)"', tag).group(1)] = re.search(r'value="([^"]+)"', tag).group(1)
    return found


def test_questionnaire_shows_where_the_customer_is_and_keeps_answers_over_a_reload(invited, client):
    code = invited["C0001"]
    list_html = page(_verify(client, code))
    assert "第 1 / 2 份保单" in list_html and "第 2 / 2 份保单" in list_html
    first, second = _task_ids("C0001")
    html = page(client.get(f"/s/{code}/task/{first}"))
    names = sorted(set(re.findall(r'name="(q_\d+)"', html)), key=lambda n: int(n[2:]))
    total = len(names)
    assert total >= 7
    assert f"第 1 / {total} 题" in html and f"第 {total} / {total} 题" in html
    assert f"已回答 0 / {total} 题" in html and "第 1 / 2 份保单" in html
    assert f'id="topbar-back" href="/s/{code}/list"' in html  # ‹ 返回 without history: the list
    assert _checked(html) == {}

    # each choice is kept on the server (h5.js posts it); a reload shows the choices again
    chosen = {names[0]: "yes", names[1]: "no", names[2]: "yes"}
    saved = client.post(f"/s/{code}/task/{first}/draft", data={"csrf_token": csrf_token(html), **chosen,
                                                               "q_999999": "yes", names[3]: "maybe"})
    assert saved.status_code == 200 and saved.get_json() == {"saved": 3}
    again = page(client.get(f"/s/{code}/task/{first}"))
    assert _checked(again) == chosen
    assert f"已回答 3 / {total} 题" in again
    # the other policy's page has its own (empty) answers and says it is the second
    other = page(client.get(f"/s/{code}/task/{second}"))
    assert _checked(other) == {} and "第 2 / 2 份保单" in other

    # an incomplete submit keeps what was given too
    client.post(f"/s/{code}/task/{first}", data={"csrf_token": csrf_token(again), "task_id": str(first),
                                                 names[0]: "no", names[4]: "yes"})
    assert _checked(page(client.get(f"/s/{code}/task/{first}"))) == {names[0]: "no", names[4]: "yes"}

    # submitted: the draft is gone with the questionnaire
    data = {"csrf_token": csrf_token(again), "task_id": str(first), **{n: "yes" for n in names}}
    assert client.post(f"/s/{code}/task/{first}", data=data).status_code == 302
    assert client.post(f"/s/{code}/task/{first}/draft",
                       data={"csrf_token": csrf_token(again), names[0]: "no"}).status_code == 409


def test_drafts_are_refused_without_the_face_check_a_token_or_for_another_task(invited, app, client):
    code = invited["C0001"]
    first, _ = _task_ids("C0001")
    stranger = app.test_client()
    assert stranger.post(f"/s/{code}/task/{first}/draft", data={"q_1": "yes"}).status_code in (400, 403)
    _verify(client, code)
    token = csrf_token(page(client.get(f"/s/{code}/task/{first}")))
    assert client.post(f"/s/{code}/task/{first}/draft", data={"q_1": "yes"}).status_code == 400
    others = _task_ids("C0002")
    assert client.post(f"/s/{code}/task/{others[0]}/draft", data={"csrf_token": token}).status_code == 404
    assert client.post(f"/s/{code}/task/abc/draft", data={"csrf_token": token}).status_code == 404


def _outside_tel_links(html):
    """The page's text with the tel: links taken out: the hotline must not be left in it, but for the
    seed's closing words, kept verbatim, whose call button (a tel: link) follows them."""
    body = html.split("<body", 1)[1]
    body = re.sub(r'<a [^>]*href="tel:%s"[^>]*>[^<]*%s\s*</a>' % (HOTLINE, HOTLINE), "", body)
    if 'id="closing-call"' in html:
        body = body.replace(CLOSING_TEXT, "")
    return body


def _assert_phone_page(response, path):
    html = page(response)
    assert response.status_code < 500, path
    back = re.search(r'<header class="topbar">.*?<a [^>]*id="topbar-back"[^>]*href="([^"]+)"[^>]*>‹ 返回</a>',
                     html, re.S)
    assert back and back.group(1).startswith("/"), f"no ‹ 返回 in the top bar of {path}"
    assert HOTLINE not in _outside_tel_links(html), f"the hotline is not a tel: link on {path}"
    assert f'href="tel:{HOTLINE}"' in html, path


def test_every_customer_page_has_back_and_the_hotline_as_a_tel_link(invited, app, client):
    code = invited["C0001"]
    first, second = _task_ids("C0001")
    pages = {f"/s/{code}": client.get(f"/s/{code}"), "/s/wrong": client.get("/s/notarealcode000")}
    pages["list"] = _verify(client, code)
    pages["task"] = client.get(f"/s/{code}/task/{first}")
    html = page(pages["task"])
    names = set(re.findall(r'name="(q_\d+)"', html))
    pages["result"] = client.post(f"/s/{code}/task/{first}", data={
        "csrf_token": csrf_token(html), "task_id": str(first), **{n: "yes" for n in names}}, follow_redirects=True)
    pages["answered again"] = client.get(f"/s/{code}/task/{first}")
    _complete([second])
    pages["closing"] = client.get(f"/s/{code}/next")
    assert "您的回访已完成" in page(pages["closing"])
    pages["exit"] = client.get(f"/s/{code}/exit")
    link = _link(invited["C0002"])
    with time_machine.travel(link.expires_at + timedelta(hours=1), tick=False):
        pages["expired"] = client.get(f"/s/{invited['C0002']}")
    pages["consent wrong"] = client.get("/c/notarealcode000")
    signed = app.test_client()
    pages["/my/signin"] = signed.get("/my/signin")
    pages["/my/ center"] = sign_in(signed, "13700137004")
    pages["/my/auth"] = signed.get("/my/auth")
    pages["/my/"] = signed.get("/my/", follow_redirects=True)
    for path, response in pages.items():
        _assert_phone_page(response, path)


# --- 账户认证: steps, the liveness failure page, the face intro --------------------------------------

def _bound_li_ming(client, signed_in=False):
    li = customer("C0004")
    if not signed_in:
        sign_in(client, "13700137004")
    bind(client, li.name, li.id_type, li.id_number, li.mobile)
    agree_biometrics(li.id)
    return li


def _steps(html):
    found = re.search(r'<ol class="auth-steps" id="auth-steps"[^>]*>(.*?)</ol>', html, re.S)
    assert found, "no 认证步骤 on the page"
    items = re.findall(r'<li class="(\w+)"[^>]*>.*?</span>([^<]+)</li>', found.group(1), re.S)
    return [(label.strip(), state) for state, label in items]


def test_account_authentication_shows_its_steps(seeded, client):
    sign_in(client, "13700137004")
    assert _steps(page(client.get("/my/auth"))) == [("绑定", "current"), ("人脸识别", "todo"), ("设置密码", "todo")]
    _bound_li_ming(client, signed_in=True)
    assert _steps(page(client.get("/my/face"))) == [("绑定", "done"), ("人脸识别", "current"), ("设置密码", "todo")]
    assert 'id="auth-steps"' not in page(client.get("/my/"))


def test_the_liveness_failure_page_says_how_many_tries_are_left(seeded, app, client):
    from app.services import settings as business_settings

    li = _bound_li_ming(client)
    most = business_settings.get("FACE_MAX_TRIES")
    ids = []
    for _ in range(2):
        row = IdentityVerification(customer_id=li.id, kind="VIDEO", purpose="ACCOUNT_AUTH", status="FAILED",
                                   challenge_digits="1234", created_at=clock.now(), completed_at=clock.now(),
                                   details={"reasons": ["face_mismatch"]})
        db.session.add(row)
        db.session.commit()
        ids.append(row.id)
    html = page(client.get(f"/my/face/{ids[-1]}"))
    assert "人脸识别未通过" in html
    assert f"今天还可尝试{most - 2}次" in re.sub(r"<[^>]+>", "", html)
    assert "重新录制" in html
    for _ in range(most - 2):
        db.session.add(IdentityVerification(customer_id=li.id, kind="VIDEO", purpose="ACCOUNT_AUTH",
                                            status="FAILED", created_at=clock.now()))
    db.session.commit()
    spent = page(client.get(f"/my/face/{ids[-1]}"))
    assert "今天的尝试次数已用完" in spent and 'id="retry-btn"' not in spent
    assert f'href="tel:{HOTLINE}"' in spent


def test_the_face_intro_is_the_seeds_with_no_more_tips(seeded, client):
    _bound_li_ming(client)
    intro = page(client.get("/my/face"))
    assert "请在安静且光线充足环境下,确保正脸对准屏幕框" in intro
    assert re.search(r'<input[^>]*type="checkbox"[^>]*id="no-more-tips"', intro) and "不再提示" in intro
    assert "下一步" in intro
    # 不再提示 ticked (h5.js sets the cookie): the intro is left out next time, one tap shows it again
    client.set_cookie("face_intro_skip", "1")
    skipped = page(client.get("/my/face"))
    assert "请在安静且光线充足环境下" not in skipped and "下一步" in skipped and "查看提示" in skipped
    assert "请在安静且光线充足环境下" in page(client.get("/my/face?intro=1"))
