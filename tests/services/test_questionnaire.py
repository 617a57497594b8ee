"""Questionnaire templates: the shipped defaults, versioned saves, and the admin editor."""
import pytest

from app.extensions import db
from app.models import Policy, QuestionnaireTemplate, RevisitTask
from app.services import questionnaire, revisit
from app.services.errors import DomainError
from tests.conftest import csrf_token, login


def test_defaults_ship_the_regulatory_and_product_questions_once(seeded):
    template = questionnaire.ensure_defaults()
    assert questionnaire.ensure_defaults().id == template.id
    assert db.session.query(QuestionnaireTemplate).filter_by(code="EREVISIT").count() == 1
    by_scope = {(q.payment_mode, q.product_kinds) for q in template.questions}
    assert {(None, None), ("REGULAR", None), (None, "PARTICIPATING"), (None, "UNIVERSAL"),
            (None, "UNIT_LINKED")} == by_scope
    assert sum(1 for q in template.questions if q.payment_mode is None and q.product_kinds is None) == 6
    seed_question = [q.text for q in template.questions if "{next_due_date}" in q.text]
    assert seed_question == ["您的保费为每{payment_frequency}{premium}元,缴费期间为{payment_years}年,"
                             "下次缴费时间为{next_due_date},请问这些您是否清楚?"]


@pytest.mark.parametrize("questions, key", [
    ([], "questionnaire_no_questions"),
    ([{"text": "  "}], "questionnaire_empty_question"),
    ([{"text": "您的{salary}?"}], "questionnaire_bad_placeholder"),
    ([{"text": "好吗?", "product_kinds": "CRYPTO"}], "questionnaire_bad_kind"),
    ([{"text": "好吗?", "payment_mode": "WEEKLY"}], "questionnaire_bad_mode"),
])
def test_invalid_templates_are_refused(seeded, questions, key):
    with pytest.raises(DomainError) as err:
        questionnaire.save_template("X", "x", None, None, questions)
    assert err.value.key == key


def test_admin_edits_a_template_and_running_tasks_keep_their_version(seeded, client):
    running = db.session.query(RevisitTask).join(Policy).filter(Policy.policy_no == "880000001522216").one()
    login(client, "admin")
    page = client.get("/questionnaire-editor/edit/EREVISIT")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "您的保费为每{payment_frequency}{premium}元" in html
    template = questionnaire.ensure_defaults()
    rows = len(template.questions) + 3
    form = {"csrf_token": csrf_token(html), "base_version": "1", "row_count": str(rows), "code": "EREVISIT",
            "name": "电子化回访标准问卷(2027版)", "payment_mode": ""}
    for i, q in enumerate(template.questions):
        form[f"position_{i}"] = str(i + 1)
        form[f"text_{i}"] = q.text
        form[f"mode_{i}"] = q.payment_mode or ""
        if q.product_kinds:
            form[f"kinds_{i}"] = q.product_kinds
    form["text_0"] = "您好,请问您是{holder_name}本人吗?"
    form[f"text_{len(template.questions)}"] = "您是否已收到纸质保险合同?"
    form[f"position_{len(template.questions)}"] = "0.5"  # placed first
    reply = client.post("/questionnaire-editor/edit/EREVISIT", data=form)
    assert reply.status_code == 302, reply.get_data(as_text=True)
    db.session.rollback()
    current = db.session.query(QuestionnaireTemplate).filter_by(code="EREVISIT", is_current=True).one()
    assert current.version == 2 and current.name == "电子化回访标准问卷(2027版)"
    assert [q.text for q in current.questions][:2] == ["您是否已收到纸质保险合同?", "您好,请问您是{holder_name}本人吗?"]
    assert [q.product_kinds for q in current.questions][-3:] == ["PARTICIPATING", "UNIVERSAL", "UNIT_LINKED"]
    db.session.refresh(running)
    assert running.template.version == 1
    assert revisit.render_questions(running)[0]["text"] == "您好,请问您是投保人张德强本人吗?"
    # an editor still holding version 1 cannot overwrite version 2
    stale = client.post("/questionnaire-editor/edit/EREVISIT", data=form)
    assert stale.status_code == 422 and "刚被他人修改" in stale.get_data(as_text=True)


def test_bad_placeholder_is_shown_and_nothing_saved(seeded, client):
    login(client, "admin")
    html = client.get("/questionnaire-editor/new").get_data(as_text=True)
    reply = client.post("/questionnaire-editor/new", data={
        "csrf_token": csrf_token(html), "row_count": "1", "code": "NEWQ", "name": "新问卷",
        "text_0": "您的{salary}是否清楚?"})
    assert reply.status_code == 422 and "未知的占位符:{salary}" in reply.get_data(as_text=True)
    assert db.session.query(QuestionnaireTemplate).filter_by(code="NEWQ").count() == 0


def test_auditor_reads_but_cannot_save(seeded, client):
    login(client, "auditor")
    assert client.get("/questionnaire-editor/").status_code == 200
    assert client.get("/questionnaire-editor/edit/EREVISIT").status_code in (302, 403)
