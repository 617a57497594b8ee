"""The English catalog: every message the code asks for has an English text, and pages render in English
when a user picks it (staff through Flask-AppBuilder's /lang/en, customers through the same or ?_l_=en)."""
import os
import re
import subprocess
import sys

import pytest
from babel.messages.pofile import read_po
from flask_babel import refresh

from app.extensions import db
from app.models import Customer, RevisitLink
from tests.conftest import login

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EN_PO = os.path.join(ROOT, "translations", "en", "LC_MESSAGES", "messages.po")
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")
CJK = re.compile(r"[\u3400-\u9fff]")


def _extract_keywords():
    """The -k options of `make extract-messages`, so this test extracts exactly what the Makefile does."""
    with open(os.path.join(ROOT, "Makefile"), encoding="utf-8") as handle:
        line = next(line for line in handle if "pybabel" in line and " extract " in line)
    return re.findall(r"-k\s+(\S+)", line)


def _extract(tmp_path):
    pot = tmp_path / "messages.pot"
    pybabel = os.path.join(os.path.dirname(sys.executable), "pybabel")
    args = [pybabel, "-q", "extract", "-F", "babel.cfg"]
    for keyword in _extract_keywords():
        args += ["-k", keyword]
    subprocess.run(args + ["-o", str(pot), "."], cwd=ROOT, check=True, capture_output=True, text=True)
    with open(pot, "rb") as handle:
        return read_po(handle)


def _texts(value):
    return value if isinstance(value, (tuple, list)) else (value,)


def test_every_message_has_an_english_translation_with_the_same_placeholders(tmp_path):
    extracted = _extract(tmp_path)
    with open(EN_PO, "rb") as handle:
        english = read_po(handle, locale="en")
    missing, fuzzy, mismatched = [], [], []
    for message in extracted:
        if not message.id:
            continue
        where = "%s:%s" % message.locations[0] if message.locations else "?"
        translated = english.get(message.id, message.context)
        strings = _texts(translated.string) if translated is not None else ()
        if translated is None or not all(strings) or len(strings) < english.num_plurals * isinstance(
                message.id, tuple):
            missing.append(f"{where}  {message.id!r}")
            continue
        if translated.fuzzy:
            fuzzy.append(f"{where}  {message.id!r}")
        wanted = sorted(set(PLACEHOLDER.findall(" ".join(_texts(message.id)))))
        for text in strings:
            if sorted(set(PLACEHOLDER.findall(text))) != wanted:
                mismatched.append(f"{where}  {message.id!r} -> {text!r} (needs {wanted})")
    assert not missing, (
        f"{len(missing)} message(s) have no English text: run `make extract-messages`, then give them a "
        "msgstr in translations/en/LC_MESSAGES/messages.po:\n" + "\n".join(missing))
    assert not fuzzy, "fuzzy (unchecked) English translations:\n" + "\n".join(fuzzy)
    assert not mismatched, "English texts with other %(...)s placeholders than the Chinese:\n" + \
        "\n".join(mismatched)


def test_english_texts_are_english():
    """A msgstr copied from the msgid (still Chinese) counts as untranslated."""
    with open(EN_PO, "rb") as handle:
        english = read_po(handle, locale="en")
    chinese = [m.id for m in english if m.id and any(CJK.search(t or "") for t in _texts(m.string))]
    assert not chinese, "English catalog entries still in Chinese:\n" + "\n".join(map(repr, chinese))


def _page(client, url):
    refresh()  # the test's app context outlives requests: forget the locale Flask-Babel cached in g
    response = client.get(url, follow_redirects=True)
    assert response.status_code in (200, 404), (url, response.status_code)
    return response.get_data(as_text=True)


@pytest.mark.smoke
def test_staff_pages_switch_to_english(seeded, client):
    login(client, "admin")
    chinese = _page(client, "/policyview/list/")
    assert "保险单号" in chinese and "回访管理" in chinese
    _page(client, "/lang/en")
    english = _page(client, "/policyview/list/")
    assert "Policy No." in english and "Revisit Management" in english and "Policy List" in english
    for text in ("保险单号", "回访管理", "保单列表", "保全管理"):
        assert text not in english, text
    home = _page(client, "/")
    assert "Hello, " in home and "Please choose a function from the menu above." in home
    assert "请从上方菜单选择功能" not in home
    _page(client, "/lang/zh")
    assert "保险单号" in _page(client, "/policyview/list/")


@pytest.mark.smoke
def test_customer_pages_switch_to_english(seeded, client):
    from app.services import revisit

    revisit.issue_invitations()
    code = db.session.query(RevisitLink.code).join(Customer, RevisitLink.customer_id == Customer.id) \
        .filter(Customer.customer_no == "C0001").scalar()
    assert code
    # the SMS link, in Chinese by default
    chinese = _page(client, f"/s/{code}")
    assert "身份验证" in chinese and "客服热线" in chinese
    # one page in English by asking for it in the address
    english = _page(client, f"/s/{code}?_l_=en")
    assert "Identity check" in english and "Customer service hotline" in english
    assert "身份验证" not in english and "客服热线" not in english
    # for the whole visit: the language switch keeps English in the session, on the official-account pages too
    _page(client, "/lang/en")
    assert "Identity check" in _page(client, f"/s/{code}")
    signin = _page(client, "/my/signin")
    assert "Sign in with the mobile number you gave when applying" in signin
    assert "请使用投保时预留的手机号码登录" not in signin


@pytest.mark.smoke
def test_a_customer_switches_language_and_stays_on_the_page(seeded, client):
    page = client.get("/my/signin").get_data(as_text=True)
    assert "English" in page
    reply = client.get("/language/en?next=/my/signin")
    assert reply.status_code == 302 and reply.headers["Location"].endswith("/my/signin")
    english = client.get("/my/signin").get_data(as_text=True)
    client.get("/language/zh?next=/my/signin")
    assert english != client.get("/my/signin").get_data(as_text=True)
    assert client.get("/language/en?next=https://evil.example/").headers["Location"].endswith("/")
    assert "evil" not in client.get("/language/en?next=//evil.example/").headers["Location"]
    assert client.get("/language/fr").status_code == 404


@pytest.mark.smoke
def test_the_recorder_script_speaks_the_customers_language(seeded, client):
    """account.js takes its texts (camera fallback, recording, upload errors) from the page."""
    import json

    def messages(page):
        block = re.search(r'<script type="application/json" id="account-messages">(.*?)</script>', page, re.S)
        assert block, "the page carries the script's texts"
        return json.loads(block.group(1))

    chinese = messages(_page(client, "/my/signin"))
    assert chinese["recording"] == "● 录制中 {s} 秒" and chinese["upload_failed"] == "上传失败,请重新录制"
    client.get("/language/en?next=/my/signin")
    english = messages(_page(client, "/my/signin"))
    assert english["recording"] == "● Recording {s} s"
    assert english["network_failed"] == "Network error: the upload failed. Please try again."
    assert not any(CJK.search(text) for text in english.values()), english
    # the code-sent marker the script looks for is part of the flashed English message
    assert english["code_sent"] in "A verification code has been sent to 138****0001; it is valid for 5 minutes"
    script = open(os.path.join(ROOT, "app", "static", "account", "account.js"), encoding="utf-8").read()
    assert "M.recording" in script and '"● 录制中 0s"' not in script
