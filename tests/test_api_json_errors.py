"""APIs answer JSON, always (issue 14, item 8): with the database unreachable every /api/ request answers
JSON 503 with Retry-After, request after request; an unhandled exception under /api/ answers JSON 500."""
import pytest

from tests.conftest import PASSWORD
from tests.test_redis_degradation import other_app

DEAD_DB = "mysql+pymysql://portal:portal@127.0.0.1:1/portal_test?connect_timeout=1"


def _json_503(answer):
    assert answer.status_code == 503, (answer.status_code, answer.get_data(as_text=True)[:300])
    assert answer.is_json and answer.get_json()["message"], answer.get_data(as_text=True)[:300]
    assert int(answer.headers["Retry-After"]) > 0
    assert "Traceback" not in answer.get_data(as_text=True)


@pytest.fixture
def token(client, seeded):
    answer = client.post("/api/v1/security/login", json={"username": "integration", "password": PASSWORD,
                                                          "provider": "db"})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return answer.get_json()["access_token"]


@pytest.mark.parametrize("propagate", [True, False], ids=["testing", "production"])
def test_database_down_api_answers_json_503(app, servers, token, propagate):
    with other_app(app, servers, SQLALCHEMY_DATABASE_URI=DEAD_DB, PROPAGATE_EXCEPTIONS=propagate) as second:
        client = second.test_client()
        headers = {"Authorization": f"Bearer {token}"}
        for _ in range(3):  # not once JSON and then an HTML page
            _json_503(client.post("/api/v1/security/login", json={"username": "integration",
                                                                   "password": PASSWORD, "provider": "db"}))
            _json_503(client.get("/api/v1/phone_revisit/results", headers=headers))
            _json_503(client.post("/api/v1/intake/policies", json={"policies": []}, headers=headers))


@pytest.mark.parametrize("propagate", [True, False], ids=["testing", "production"])
def test_unhandled_exception_under_api_answers_json(app, servers, propagate):
    with other_app(app, servers, PROPAGATE_EXCEPTIONS=propagate) as second:
        def boom():
            raise RuntimeError("secret internals")

        second.add_url_rule("/api/v1/_boom", "boom", boom)
        answer = second.test_client().get("/api/v1/_boom")
        assert answer.status_code == 500 and answer.is_json
        assert "secret internals" not in answer.get_data(as_text=True)
        assert answer.get_json()["message"]
        assert second.test_client().get("/api/v1/no-such-thing").is_json  # 404 too
