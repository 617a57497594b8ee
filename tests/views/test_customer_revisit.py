"""The customer's e-revisit pages through the test client, on the demo data, with real face checks
(face_recognition on the photos in ../shared/testdata/faces) and Celery in eager mode."""
import io
import os
import re
from datetime import timedelta

import pytest
import time_machine

from app.extensions import db
from app.models import (Customer, IdentityVerification, Policy, RevisitAnswer, RevisitEvidence,
                        RevisitLink, RevisitTask, SmsMessage)
from tests.conftest import FACES, csrf_token
from tests.biometric import agree_everyone

# the three faces also run on the embedded default (SQLite) in `make test`
pytestmark = pytest.mark.smoke

SUCCESS_TEXT = "问卷提交成功,您的回访已经成功啦,非常感谢您的支持与配合"
CLOSING_TEXT = "感谢您的支持与信任,如日后您有任何保险相关的服务需求,请致电10109520,愿爱心带给您最温暖的感受,再见!"


def _photo(name):
    with open(os.path.join(FACES, name), "rb") as handle:
        return handle.read()


@pytest.fixture
def linked(seeded):
    """The demo tasks invited by SMS: one link per customer; {customer_no: code}."""
    from app.services import revisit

    revisit.issue_invitations()
    agree_everyone()  # the biometric notice was agreed to (its own tests: tests/views/test_biometric_consent.py)
    return {c.customer_no: link.code for link, c in
            db.session.query(RevisitLink, Customer).join(Customer, RevisitLink.customer_id == Customer.id)}


@pytest.fixture
def invited(linked):
    """Invited, and the reference photos on file: 张德强 is obama.jpg, 爱小心 biden.jpg."""
    from app.services import identity

    for customer_no, photo in (("C0001", "obama.jpg"), ("C0002", "biden.jpg")):
        customer = db.session.query(Customer).filter_by(customer_no=customer_no).one()
        identity.attach_reference_photo(customer.id, _photo(photo))
    db.session.commit()
    return linked


def _task_ids(customer_no):
    return [t.id for t in db.session.query(RevisitTask).join(Policy, RevisitTask.policy_id == Policy.id)
            .join(Customer, Policy.holder_id == Customer.id).filter(Customer.customer_no == customer_no)
            .order_by(RevisitTask.id)]


def _upload(client, code, photo_bytes, filename="selfie.jpg", **kwargs):
    page = client.get(f"/s/{code}")
    return client.post(f"/s/{code}/face", data={
        "csrf_token": csrf_token(page.get_data(as_text=True)),
        "photo": (io.BytesIO(photo_bytes), filename)}, content_type="multipart/form-data",
        follow_redirects=True, **kwargs)


def _verify(client, code, photo="obama2.jpg"):
    response = _upload(client, code, _photo(photo))
    assert response.status_code == 200
    assert "身份验证通过" in response.get_data(as_text=True)
    return response


def _answer(client, code, task_id, choices=None, drop=(), tamper=None):
    """Open the questionnaire and post 是 for every question (or the given choices)."""
    page = client.get(f"/s/{code}/task/{task_id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    names = sorted(set(re.findall(r'name="(q_\d+)"', html)), key=lambda n: int(n[2:]))
    data = {"csrf_token": csrf_token(html), "task_id": str(task_id)}
    for index, name in enumerate(names):
        if index not in drop:
            data[name] = (choices or {}).get(index, "yes")
    data.update(tamper or {})
    return client.post(f"/s/{code}/task/{task_id}", data=data, follow_redirects=True), names


def test_sms_link_opens_the_face_page_in_the_seeds_words(linked, client):
    invited = linked
    sms = db.session.query(SmsMessage).filter_by(purpose="EREVISIT").all()
    text = next(m.content for m in sms if m.phone == "13800138001")
    path = re.search(r"/s/[A-Za-z0-9_-]+", text).group(0)
    assert path == "/s/" + invited["C0001"]

    response = client.get(path)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    for words in ("请在 3G/4G/WiFi 环境下使用", "开始验证", "退出验证", 'name="viewport"'):
        assert words in html
    assert re.search(r'<input[^>]*type="file"[^>]*accept="image/\*"[^>]*capture="user"', html)
    assert 'enctype="multipart/form-data"' in html and 'name="csrf_token"' in html
    assert "//cdn" not in html and "https://" not in html  # nothing from outside
    assert client.get("/static/h5/h5.css").status_code == 200
    step = db.session.query(RevisitEvidence).filter_by(step="link_opened").one()
    assert step.ip == "127.0.0.1" and step.user_agent


@pytest.mark.parametrize("code", ["doesnotexist", "AAAAAAAAAAAAAAAA", "x" * 40])
def test_wrong_code_gets_a_generic_404(linked, client, code):
    response = client.get(f"/s/{code}")
    html = response.get_data(as_text=True)
    assert response.status_code == 404
    assert "链接无效" in html and "张德强" not in html
    assert client.get(f"/s/{code}/list").status_code == 404


def test_code_case_matters(linked, client):
    code = linked["C0001"]
    swapped = code.swapcase()
    if swapped != code:
        assert client.get(f"/s/{swapped}").status_code == 404


def test_guessing_is_rate_limited_per_ip_but_customers_are_not(linked, app, client, monkeypatch):
    invited = linked
    monkeypatch.setitem(app.config, "SHORT_LINK_PER_MINUTE", "3 per minute")
    guesser = {"REMOTE_ADDR": "10.0.0.66"}
    for attempt in range(3):
        assert client.get(f"/s/guess{attempt:011d}", environ_base=guesser).status_code == 404
    blocked = client.get("/s/guess99999999999", environ_base=guesser)
    assert blocked.status_code == 429
    assert "访问过于频繁" in blocked.get_data(as_text=True)
    # the guesser's IP cannot try a right code now either
    assert client.get(f"/s/{invited['C0001']}", environ_base=guesser).status_code == 429
    # a customer on another address opening their own link many times is never blocked
    for _ in range(6):
        assert client.get(f"/s/{invited['C0002']}", environ_base={"REMOTE_ADDR": "10.0.0.7"}).status_code == 200


def test_expired_link_announces_the_phone_revisit_and_hotline(linked, client):
    link = db.session.query(RevisitLink).filter_by(code=linked["C0001"]).one()
    with time_machine.travel(link.expires_at + timedelta(minutes=1), tick=False):
        response = client.get(f"/s/{link.code}")
        html = response.get_data(as_text=True)
        assert response.status_code == 200
        assert "电话回访" in html and "10109520" in html and "开始验证" not in html
        assert "10109520" in client.get(f"/s/{link.code}/list").get_data(as_text=True)


def test_whole_flow_face_list_questionnaire_success_and_closing(invited, client):
    code = invited["C0001"]
    html = _verify(client, code).get_data(as_text=True)
    tasks = _task_ids("C0001")
    assert len(tasks) == 2
    # one card per policy, the seed's fields, unmasked
    for words in ("爱心人寿爱鑫红两全保险(分红型)", "880000001522216", "880000001522217", "保险单号",
                  "投保人姓名", "被保险人姓名", "承保日期", "保单状态", "保单有效", "开始在线回访"):
        assert words in html
    assert html.count("张德强") == 4  # holder and insured on both cards
    issued = db.session.query(Policy).filter_by(policy_no="880000001522216").one().issue_date
    assert issued.isoformat() in html
    assert "爱小心" not in html

    result, names = _answer(client, code, tasks[0])
    assert len(names) >= 7  # the seven regulatory confirmations at least
    assert SUCCESS_TEXT in result.get_data(as_text=True) and "好的" in result.get_data(as_text=True)
    back = client.get(f"/s/{code}/next", follow_redirects=True).get_data(as_text=True)
    assert "880000001522217" in back and "880000001522216" not in back  # only the pending one left

    result, _ = _answer(client, code, tasks[1])
    assert SUCCESS_TEXT in result.get_data(as_text=True)
    closing = client.get(f"/s/{code}/next", follow_redirects=True).get_data(as_text=True)
    assert CLOSING_TEXT in closing

    db.session.expire_all()
    assert {t.status for t in db.session.query(RevisitTask).filter(RevisitTask.id.in_(tasks))} == {"SUCCESS"}
    answers = db.session.query(RevisitAnswer).filter(RevisitAnswer.task_id.in_(tasks)).all()
    assert answers and all(a.answer and a.ip == "127.0.0.1" and a.user_agent for a in answers)
    steps = [e.step for e in db.session.query(RevisitEvidence).order_by(RevisitEvidence.id)]
    for step in ("link_opened", "face_submitted", "face_result", "list_viewed", "questionnaire_opened",
                 "answers_submitted"):
        assert step in steps
    check = db.session.query(IdentityVerification).one()
    assert check.status == "PASSED" and check.distance is not None and check.evidence_path
    result_step = db.session.query(RevisitEvidence).filter_by(step="face_result").one()
    assert result_step.data["distance"] == check.distance and result_step.data["status"] == "PASSED"
    submitted = db.session.query(RevisitEvidence).filter_by(step="face_submitted").one()
    assert submitted.data["photo"] == check.evidence_path
    # answering again is refused and changes nothing
    again = client.get(f"/s/{code}/task/{tasks[0]}")
    assert again.status_code == 409 and "请勿重复提交" in again.get_data(as_text=True)


def test_progress_page_and_status_json_belong_to_the_browser_that_uploaded(invited, app, client):
    code = invited["C0001"]
    page = client.get(f"/s/{code}")
    response = client.post(f"/s/{code}/face", data={
        "csrf_token": csrf_token(page.get_data(as_text=True)),
        "photo": (io.BytesIO(_photo("obama2.jpg")), "selfie.jpg")}, content_type="multipart/form-data")
    assert response.status_code == 302
    progress_url = response.headers["Location"]
    verification_id = int(progress_url.rstrip("/").split("/")[-1])
    status = client.get(f"/s/{code}/face/{verification_id}/status")
    assert status.status_code == 200 and status.json["status"] == "PASSED"
    assert status.json["redirect"].endswith(f"/s/{code}/list")
    # another browser, or the same id under another link, learns nothing
    other = app.test_client()
    assert other.get(f"/s/{code}/face/{verification_id}/status").status_code == 404
    assert client.get(f"/s/{invited['C0002']}/face/{verification_id}/status").status_code == 404


def test_face_mismatch_shows_the_chinese_message_and_keeps_the_list_closed(invited, client):
    code = invited["C0001"]
    html = _upload(client, code, _photo("biden.jpg")).get_data(as_text=True)
    assert "人脸比对未通过" in html and "开始验证" in html
    assert "还可尝试4次" in html  # FACE_MAX_TRIES 5, one used
    assert client.get(f"/s/{code}/list").status_code == 302
    db.session.expire_all()
    assert db.session.query(IdentityVerification).one().status == "FAILED"
    assert db.session.query(RevisitLink).filter_by(code=code).one().face_verified_at is None


def test_photo_with_two_people_or_no_face(invited, client):
    code = invited["C0001"]
    html = _upload(client, code, _photo("two_people.jpg")).get_data(as_text=True)
    assert "多张人脸" in html
    assert client.get(f"/s/{code}/list").status_code == 302


def test_non_image_upload_is_refused_in_chinese(invited, client):
    code = invited["C0001"]
    response = _upload(client, code, b"%PDF-1.4 not a photo at all", filename="selfie.jpg")
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert re.search(r'class="alert alert-error"[^>]*>[^<]*[\u4e00-\u9fff]', html)
    assert "开始验证" in html


def test_missing_photo_is_refused(invited, client):
    code = invited["C0001"]
    page = client.get(f"/s/{code}")
    response = client.post(f"/s/{code}/face", data={"csrf_token": csrf_token(page.get_data(as_text=True))},
                           content_type="multipart/form-data")
    assert response.status_code == 400 and "请拍摄一张本人正面照片" in response.get_data(as_text=True)
    forged = client.post(f"/s/{code}/face", data={"csrf_token": "forged",
                                                   "photo": (io.BytesIO(_photo("obama2.jpg")), "selfie.jpg")},
                         content_type="multipart/form-data")
    assert forged.status_code == 400 and "页面已过期" in forged.get_data(as_text=True)
    assert db.session.query(IdentityVerification).count() == 0


def test_too_many_tries_stops_the_uploads(invited, app, client, monkeypatch):
    monkeypatch.setitem(app.config, "FACE_MAX_TRIES", 2)
    code = invited["C0001"]
    for _ in range(2):
        _upload(client, code, _photo("biden.jpg"))
    html = client.get(f"/s/{code}").get_data(as_text=True)
    assert "失败次数过多" in html and 'type="file"' not in html
    page_token = csrf_token(client.get(f"/s/{invited['C0002']}").get_data(as_text=True))
    response = client.post(f"/s/{code}/face", data={
        "csrf_token": page_token, "photo": (io.BytesIO(_photo("obama2.jpg")), "selfie.jpg")},
        content_type="multipart/form-data")
    assert response.status_code == 403
    db.session.expire_all()
    assert db.session.query(IdentityVerification).count() == 2


def test_a_no_answer_becomes_a_problem_case_and_the_customer_is_told(invited, client):
    code = invited["C0001"]
    _verify(client, code)
    task_id = _task_ids("C0001")[0]
    result, _ = _answer(client, code, task_id, choices={1: "no"})
    html = result.get_data(as_text=True)
    assert "回访专员" in html and "感谢" in html and SUCCESS_TEXT not in html
    db.session.expire_all()
    task = db.session.get(RevisitTask, task_id)
    assert task.status == "PROBLEM" and task.is_problem
    assert [a.answer for a in sorted(task.answers, key=lambda a: a.question_id)].count(False) == 1
    # 好的 goes back to the list: the other policy is still pending
    assert "880000001522217" in client.get(f"/s/{code}/next", follow_redirects=True).get_data(as_text=True)


def test_unanswered_question_keeps_the_given_answers(invited, client):
    code = invited["C0001"]
    _verify(client, code)
    task_id = _task_ids("C0001")[0]
    response, names = _answer(client, code, task_id, choices={0: "no"}, drop=(2,))
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "请回答全部问题" in html and "请选择“是”或“否”" in html
    assert re.search(rf'<input[^>]*checked[^>]*name="{names[0]}"[^>]*value="no"', html) or \
        re.search(rf'<input[^>]*name="{names[0]}"[^>]*value="no"[^>]*checked', html) or \
        re.search(rf'<input[^>]*checked[^>]*id="{names[0]}-1"', html)
    db.session.expire_all()
    assert db.session.get(RevisitTask, task_id).status == "SMS_SENT"
    assert db.session.query(RevisitAnswer).count() == 0


def test_questionnaire_needs_csrf(invited, client):
    code = invited["C0001"]
    _verify(client, code)
    task_id = _task_ids("C0001")[0]
    _, names = _answer(client, code, task_id, tamper={"csrf_token": "forged"})
    db.session.expire_all()
    assert db.session.get(RevisitTask, task_id).status == "SMS_SENT"


def test_another_customers_task_cannot_be_seen_or_answered(invited, client):
    code = invited["C0001"]
    _verify(client, code)
    mine = _task_ids("C0001")[0]
    theirs = _task_ids("C0002")[0]
    # by the task id in the URL
    response = client.get(f"/s/{code}/task/{theirs}")
    assert response.status_code == 404 and "爱小心" not in response.get_data(as_text=True)
    page = client.get(f"/s/{code}/task/{mine}").get_data(as_text=True)
    assert client.post(f"/s/{code}/task/{theirs}", data={"csrf_token": csrf_token(page),
                                                        "task_id": str(theirs)}).status_code == 404
    # by the task id in the form
    response, _ = _answer(client, code, mine, tamper={"task_id": str(theirs)})
    assert response.status_code == 404
    db.session.expire_all()
    assert db.session.query(RevisitAnswer).count() == 0
    assert {t.status for t in db.session.query(RevisitTask).filter(RevisitTask.id.in_([mine, theirs]))} == \
        {"SMS_SENT"}


def test_a_session_is_bound_to_its_own_link(invited, app, client):
    code, other_code = invited["C0001"], invited["C0002"]
    _verify(client, code)
    theirs = _task_ids("C0002")[0]
    # the verified browser opening another customer's link must pass that link's face check
    assert client.get(f"/s/{other_code}/list").headers["Location"].endswith(f"/s/{other_code}")
    assert client.get(f"/s/{other_code}/task/{theirs}").status_code == 302
    # a browser without the face check cannot ride on a link that was verified elsewhere
    stranger = app.test_client()
    response = stranger.get(f"/s/{code}/list")
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/s/{code}")
    assert "开始验证" in stranger.get(f"/s/{code}").get_data(as_text=True)


def test_exit_ends_the_verified_session(invited, client):
    code = invited["C0001"]
    _verify(client, code)
    assert "已退出验证" in client.get(f"/s/{code}/exit").get_data(as_text=True)
    assert client.get(f"/s/{code}/list").status_code == 302


def test_an_oversized_photo_gets_a_chinese_page(invited, app, client, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 50 * 1024)
    response = _upload(client, invited["C0001"], _photo("obama-720p.jpg"))
    assert response.status_code == 413 and "照片文件过大" in response.get_data(as_text=True)
