"""The back-office list pages are kept until a table they read changes (app/views/page_cache.py and
app/table_versions.py, issue 14 point 6): what a user sees after any committed change, from any process,
is the change; only unchanged pages are served again, per user; Redis gone means drawn every time."""
import re
import time

import pymysql
import pytest
from sqlalchemy import event, text

from app import table_versions
from app.extensions import db
from app.models import Customer, Policy, RevisitTask
from app.services import phone_revisit
from app.views import page_cache
from tests.conftest import login, make_config

POLICY_NO = "880000001522216"  # 张德强's, issued yesterday, its e-revisit open


@pytest.fixture(autouse=True)
def _needs_redis(app):
    if not table_versions.enabled():
        pytest.skip("the list-page cache needs a Redis (the MariaDB run has one)")
    page_cache.clear()


class Statements:
    """The SQL statements a request runs, as the engine sees them."""

    def __init__(self):
        self.seen = []

    def __enter__(self):
        event.listen(db.engine, "before_cursor_execute", self._note)
        return self.seen

    def __exit__(self, *exc):
        event.remove(db.engine, "before_cursor_execute", self._note)

    def _note(self, conn, cursor, statement, *args):
        self.seen.append(statement)


def _page(client, url="/policyview/list/"):
    reply = client.get(url)
    assert reply.status_code == 200
    return reply.get_data(as_text=True)


def _without_nonce(html):
    return re.sub(r'nonce="[^"]+"', 'nonce=""', html)


def _holder(policy_no=POLICY_NO):
    db.session.expire_all()
    return db.session.query(Policy).filter_by(policy_no=policy_no).one().holder


def test_an_unchanged_list_is_served_again_without_its_queries(seeded, client):
    login(client, "supervisor")
    first = _page(client)
    with Statements() as seen:
        again = _page(client)
    assert _without_nonce(again) == _without_nonce(first)
    assert not any(re.search(r"\bFROM policy\b", s) for s in seen), seen  # the list's queries did not run
    # each page carries its own request's script nonce (the CSP header's), not the kept one
    nonces = set(re.findall(r'nonce="([^"]+)"', again))
    assert len(nonces) == 1 and nonces != set(re.findall(r'nonce="([^"]+)"', first))
    reply = client.get("/policyview/list/")
    header_nonce = re.search(r"'nonce-([^']+)'", reply.headers["Content-Security-Policy"]).group(1)
    assert set(re.findall(r'nonce="([^"]+)"', reply.get_data(as_text=True))) == {header_nonce}


def test_a_change_through_the_orm_shows_at_once(seeded, client):
    login(client, "supervisor")
    holder = _holder()
    assert holder.name in _page(client)
    holder.name = "张德强改"
    db.session.commit()
    assert "张德强改(" in _page(client)


def test_a_change_by_a_core_statement_shows_at_once(seeded, client):
    login(client, "supervisor")
    customer_no = _holder().customer_no
    assert "王改名(" not in _page(client)
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE customer SET name = :n WHERE customer_no = :c"), {"n": "王改名", "c": customer_no})
    assert f"王改名({customer_no})" in _page(client)


def test_a_rolled_back_change_moves_no_version(seeded, client):
    login(client, "supervisor")
    _page(client)
    before = table_versions.current()
    holder = _holder()
    holder.name = "不会保存"
    db.session.flush()
    db.session.rollback()
    assert table_versions.current() == before
    assert "不会保存" not in _page(client)


def test_a_change_made_by_another_process_shows_at_once(seeded, client, servers):
    """Another gunicorn worker or a Celery worker: an app of its own, its own engine, the same Redis."""
    from app import create_app

    login(client, "supervisor")
    customer_no = _holder().customer_no
    _page(client)
    other = create_app(make_config(servers))
    with other.app_context():
        from app.extensions import db as other_db

        with other_db.engine.begin() as conn:
            conn.execute(text("UPDATE customer SET name = '别处改' WHERE customer_no = :c"), {"c": customer_no})
        other_db.engine.dispose()
    assert f"别处改({customer_no})" in _page(client)


def _row(html, policy_no=POLICY_NO):
    return next(row for row in re.findall(r"<tr>.*?</tr>", html, re.S) if policy_no in row)


def test_an_edit_in_the_admin_shows_in_the_list_and_its_message_once(seeded, client):
    from tests.views.test_policy_admin import _edit, _policy

    login(client, "operator")
    assert "保单有效" in _row(_page(client))
    reply = _edit(client, _policy(), status="SUSPENDED")
    assert reply.status_code == 200 and re.search(r'class="alert[^"]*"', reply.get_data(as_text=True))
    again = _page(client)
    assert "中止" in _row(again) and "保单有效" not in _row(again)
    assert not re.search(r'class="alert[^"]*"', again)  # the message was shown once, where it was meant


def test_each_user_gets_their_own_page(seeded, client, app):
    """An agent's task list holds only their tasks; another agent's kept page is never theirs."""
    from tests.factories import make_task

    one_id = make_task(POLICY_NO, assignee="agent1", status="CALLBACK")
    db.session.commit()
    login(client, "agent1")
    mine = _page(client, "/revisittaskview/list/")
    assert f"/revisittaskview/show/{one_id}" in mine
    other = app.test_client()
    login(other, "agent2")
    theirs = _page(other, "/revisittaskview/list/")
    assert f"/revisittaskview/show/{one_id}" not in theirs
    assert "回访专员 一" not in theirs.split("navbar-right")[-1][:2000]  # their own name in the navbar


@pytest.mark.skipif("config.getoption('-m') == 'smoke'")
def test_a_claim_by_the_stored_procedure_shows_in_the_task_list(seeded, client, app):
    """The agents' claim commits inside MariaDB on a raw connection, which the engine never sees."""
    if db.engine.dialect.name != "mysql":
        pytest.skip("the claim procedure is MariaDB's")
    from tests.factories import make_task
    from tests.services.test_phone_revisit import user_id

    task_id = make_task(POLICY_NO, status="PHONE_QUEUE")
    db.session.commit()
    login(client, "supervisor")
    assert "电话回访中" not in _page(client, "/revisittaskview/list/")
    assert phone_revisit.claim_next(user_id("agent1")) == task_id
    assert "电话回访中" in _page(client, "/revisittaskview/list/")


def _raw_update(servers, sql):
    """A change made by hand in SQL, outside the portal (no version moves)."""
    url = db.engine.url
    conn = pymysql.connect(host=url.host, port=url.port, user=url.username, password=url.password,
                           database=url.database, autocommit=True)
    try:
        conn.cursor().execute(sql)
    finally:
        conn.close()


def test_a_change_made_outside_the_portal_shows_within_the_time_limit(seeded, client, app, servers, monkeypatch):
    if db.engine.dialect.name != "mysql":
        pytest.skip("a second connection by hand: MariaDB")
    monkeypatch.setitem(app.config, "LIST_PAGE_CACHE_SECONDS", 1)
    login(client, "supervisor")
    customer_no = _holder().customer_no
    _page(client)
    _raw_update(servers, f"UPDATE customer SET name = '手改' WHERE customer_no = '{customer_no}'")
    assert "手改(" not in _page(client)  # kept: nothing told the portal
    time.sleep(1.1)
    assert f"手改({customer_no})" in _page(client)


def test_a_lost_redis_hash_starts_a_new_epoch(seeded, client, servers):
    """Redis restarted without its data: the versions start from nothing again, and the pages kept
    before are not taken for current ones."""
    import redis

    if db.engine.dialect.name != "mysql":
        pytest.skip("a second connection by hand: MariaDB")
    login(client, "supervisor")
    customer_no = _holder().customer_no
    _page(client)
    _raw_update(servers, f"UPDATE customer SET name = '重启后' WHERE customer_no = '{customer_no}'")
    redis.Redis.from_url(servers["redis_url"]).delete(table_versions.TABLE_VERSIONS_KEY)
    assert f"重启后({customer_no})" in _page(client)


def test_with_redis_gone_lists_are_drawn_every_time_and_nothing_fails(seeded, servers):
    from app import create_app
    from tests.harness import free_port

    gone = f"redis://127.0.0.1:{free_port()}/0"
    app = create_app(make_config(servers, PAGE_CACHE_REDIS_URL=gone, SESSION_REDIS_URL=None))
    client = app.test_client()
    with app.app_context():
        login(client, "supervisor")
        started = time.monotonic()
        first = _page(client)
        holder = _holder()
        holder.name = "无缓存"
        db.session.commit()  # the commit does not wait on the missing Redis
        assert "无缓存(" in _page(client) and "无缓存(" not in first
        assert time.monotonic() - started < 5
        db.session.remove()
        db.engine.dispose()


def test_the_written_tables_are_read_from_the_statements():
    assert table_versions.written_tables("UPDATE customer SET name=%s WHERE id=%s") == {"customer"}
    assert table_versions.written_tables("INSERT INTO `audit_event` (a) VALUES (1)") == {"audit_event"}
    assert table_versions.written_tables(
        "UPDATE policy_loan JOIN policy ON policy.id = policy_loan.policy_id SET x = 1") == {"policy_loan", "policy"}
    assert table_versions.written_tables("DELETE FROM sms_message WHERE id IN (SELECT id FROM x)") >= {"sms_message"}
    assert table_versions.written_tables("CALL portal_claim_next(1)") == {"revisit_task", "audit_event"}
    assert table_versions.written_tables("CALL something_new()") == {table_versions.ANY}
    assert table_versions.written_tables("SELECT * FROM policy") == ()
    assert table_versions.written_tables("  /* note */ update policy set a=1") == {"policy"}
