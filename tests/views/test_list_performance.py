"""The admin lists stay fast at a million policies (issue 14 point 6): a page runs the same few queries
whatever its size (related customers, products and beneficiaries loaded with the page, never one query a
row), its query reads the default order's index and a policy-number search reads the number's unique index
by prefix (MariaDB's EXPLAIN), and the row count stops at a cap that the page states in words."""
import os
import re

import pytest
from sqlalchemy import event, text

from app.extensions import db
from app.models import Policy
from app.services import demo
from app.views import base, page_cache
from tests.conftest import login

pytestmark = pytest.mark.skipif(os.environ.get("PORTAL_TEST_DB") == "sqlite",
                                reason="EXPLAIN and the plans are MariaDB's")

BULK = 3000  # enough rows that MariaDB's optimizer chooses as it would for a million


@pytest.fixture
def bulk(seeded):
    demo.bulk_policies(BULK)
    with db.engine.begin() as conn:  # fresh statistics, as a long-running server has
        conn.execute(text("ANALYZE TABLE policy, customer"))
    return seeded


class Statements:
    """Every statement the app sends while active (SQLAlchemy's cursor event)."""

    def __init__(self):
        self.seen = []

    def __enter__(self):
        event.listen(db.engine, "before_cursor_execute", self._record)
        return self

    def __exit__(self, *exc):
        event.remove(db.engine, "before_cursor_execute", self._record)

    def _record(self, conn, cursor, statement, parameters, context, executemany):
        self.seen.append((statement, parameters))

    def selects_from(self, table):
        return [(s, p) for s, p in self.seen
                if s.lstrip().upper().startswith("SELECT") and re.search(rf"\bFROM {table}\b", s)]


def _get(client, url):
    with Statements() as statements:
        response = client.get(url)
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True), statements


def _explain(statement, parameters):
    with db.engine.connect() as conn:
        return [dict(row) for row in conn.exec_driver_sql("EXPLAIN " + statement, parameters).mappings()]


def _policy_row(plan):
    rows = [row for row in plan if row["table"] == "policy"]
    assert rows, plan
    return rows[0]


def test_a_list_page_runs_the_same_few_queries_whatever_its_size(client, bulk):
    login(client, "admin")
    _get(client, "/policyview/list/")  # warm: the first request of a session loads its user and menu
    small, small_statements = _get(client, "/policyview/list/?psize_PolicyView=10")
    large, large_statements = _get(client, "/policyview/list/?psize_PolicyView=100")
    assert large.count("/policyview/show/") > small.count("/policyview/show/") >= 10
    assert len(large_statements.seen) == len(small_statements.seen), \
        [s for s, _ in large_statements.seen]
    assert len(large_statements.seen) <= 12, [s for s, _ in large_statements.seen]
    # customers (holder and insured) come with the page's query, never one query a row
    assert len(large_statements.selects_from("customer")) <= 1, large_statements.selects_from("customer")
    assert len(large_statements.selects_from("beneficiary")) <= 1


def test_the_list_query_reads_the_default_order_index(client, bulk):
    login(client, "admin")
    _, statements = _get(client, "/policyview/list/?page_PolicyView=2")
    policies = statements.selects_from("policy")
    pages = [(s, p) for s, p in policies if "ORDER BY" in s and "LIMIT" in s]
    assert pages, [s for s, _ in statements.seen]
    row = _policy_row(_explain(*pages[0]))  # the page's ids: the default order's index alone
    assert row["type"] == "index" and row["key"] == "ix_policy_issue_date", row
    assert "filesort" not in (row["Extra"] or ""), row
    rows = [(s, p) for s, p in policies if " IN (" in s]  # then those rows, by primary key
    assert rows, [s for s, _ in policies]
    row = _policy_row(_explain(*rows[0]))
    assert row["type"] in ("range", "eq_ref", "const") and row["key"] == "PRIMARY", row


def test_a_policy_number_search_reads_the_unique_index_by_prefix(client, bulk):
    wanted = db.session.query(Policy).filter(Policy.policy_no.like("99%")).order_by(Policy.id).first()
    prefix = wanted.policy_no[:-1]  # ten policies share it
    login(client, "admin")
    page, statements = _get(client, f"/policyview/list/?_flt_0_policy_no={prefix}")
    assert wanted.policy_no in page
    for statement, parameters in statements.selects_from("policy"):
        if "LIKE" not in statement:
            continue
        assert "lower(" not in statement.lower(), statement
        row = _policy_row(_explain(statement, parameters))
        assert row["type"] == "range" and row["key"] == "policy_no", row
    other = db.session.query(Policy).filter(~Policy.policy_no.like(prefix + "%")).first()
    assert other.policy_no not in page


def test_the_capped_count_says_so_and_paging_goes_on(client, bulk, monkeypatch):
    monkeypatch.setattr(base, "LIST_COUNT_CAP", 100)
    login(client, "admin")
    first, _ = _get(client, "/policyview/list/")
    assert "超过100条" in first
    second, _ = _get(client, "/policyview/list/?page_PolicyView=1")
    assert "超过100条" in second
    numbers = lambda html: set(re.findall(r"\b99\d{13}\b", html))  # noqa: E731
    assert numbers(first) and numbers(second) and not numbers(first) & numbers(second)
    # beyond the cap the page still answers and offers the next page
    far, _ = _get(client, "/policyview/list/?page_PolicyView=20")
    assert numbers(far) and "page_PolicyView=21" in far
    # a small result is counted exactly
    monkeypatch.setattr(base, "LIST_COUNT_CAP", 10 ** 6)
    page_cache.clear()  # the code changed, not the data: the kept pages would still say 超过100条
    exact, _ = _get(client, "/policyview/list/")
    assert "超过" not in exact
