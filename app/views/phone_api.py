"""REST API for the call-centre system (role Integration, JWT): revisit results and call attempts.

    GET /api/v1/phone_revisit/results?from=2026-11-01&to=2026-11-30&page=1&page_size=100
    GET /api/v1/phone_revisit/results/<policy_no>
    GET /api/v1/phone_revisit/attempts?since=2026-11-24T00:00:00&page=1&page_size=100
"""
from datetime import datetime

from flask import request
from flask_appbuilder.api import BaseApi, expose
from flask_appbuilder.security.decorators import permission_name, protect

from app.services import phone_revisit
from app.services.errors import DomainError
from app.views.api import TruthfulSpec

MAX_PAGE_SIZE = 500


def _iso(value):
    return value.isoformat() if value is not None else None


def _attempt_json(a):
    return {"id": a.id, "task_id": a.task_id, "policy_no": a.task.policy.policy_no if a.task else None,
            "agent": a.agent.username if a.agent else None, "outcome": a.outcome,
            "callback_at": _iso(a.callback_at), "note": a.note,
            "started_at": _iso(a.started_at), "ended_at": _iso(a.ended_at)}


def _task_json(t):
    return {
        "task_id": t.id, "policy_no": t.policy.policy_no, "status": t.status, "channel": t.channel,
        "is_problem": t.is_problem, "problem_reason": t.problem_reason, "result_note": t.result_note,
        "hesitation_deadline": _iso(t.hesitation_deadline), "completed_at": _iso(t.completed_at),
        "attempt_count": t.attempt_count, "agent": t.assigned_to.username if t.assigned_to else None,
        "attempts": [{k: v for k, v in _attempt_json(a).items() if k not in ("task_id", "policy_no")}
                     for a in t.attempts],
        "answers": [{"question": a.question_text, "answer": a.answer, "channel": a.channel,
                     "answered_at": _iso(a.answered_at)} for a in t.answers],
    }


def _paging():
    try:
        page = max(int(request.args.get("page", 1)), 1)
        size = min(max(int(request.args.get("page_size", 100)), 1), MAX_PAGE_SIZE)
    except ValueError:
        return None
    return page, size


class PhoneRevisitApi(TruthfulSpec, BaseApi):
    resource_name = "phone_revisit"
    allow_browser_login = False  # the call-centre system signs in with JWT; no browser sessions
    base_permissions = ["can_get"]
    openapi_spec_tag = "Phone revisit"

    @expose("/results", methods=["GET"])
    @protect()
    @permission_name("get")
    def results(self):
        """Revisit results reached between two dates (inclusive), with attempts and answers.
        ---
        get:
          parameters:
          - {in: query, name: from, schema: {type: string, format: date, pattern: '^(19|2[0-9])[0-9]{2}-'},
             required: true, description: 'a date from 1900 to 2999'}
          - {in: query, name: to, schema: {type: string, format: date, pattern: '^(19|2[0-9])[0-9]{2}-'},
             required: true, description: 'a date from 1900 to 2999'}
          - {in: query, name: page, schema: {type: integer}, description: from 1 (smaller reads as 1)}
          - {in: query, name: page_size, schema: {type: integer}, description: 1 to 500 (clamped)}
          responses:
            200: {description: results}
            400: {$ref: '#/components/responses/400'}
        """
        paging = _paging()
        if paging is None:
            return self.response_400(message="page / page_size must be integers")
        page, size = paging
        try:
            tasks, total = phone_revisit.results_page(request.args.get("from", ""), request.args.get("to", ""),
                                                      page, size)
        except DomainError as exc:
            return self.response_400(message=exc.message)
        except OverflowError:  # a date at the end of the calendar (9999-12-31) plus a day
            return self.response_400(message="from / to out of range")
        return self.response(200, count=total, page=page, result=[_task_json(t) for t in tasks])

    @expose("/results/<policy_no>", methods=["GET"])
    @protect()
    @permission_name("get")
    def result(self, policy_no):
        """The revisit tasks of one policy, newest first.
        ---
        get:
          parameters:
          - {in: path, name: policy_no, schema: {type: string}}
          responses:
            200: {description: the policy's revisit tasks}
            404: {$ref: '#/components/responses/404'}
        """
        tasks = phone_revisit.tasks_of_policy(policy_no)
        if tasks is None:
            return self.response_404()
        return self.response(200, result=[_task_json(t) for t in tasks])

    @expose("/attempts", methods=["GET"])
    @protect()
    @permission_name("get")
    def attempts(self):
        """Call attempts started at or after `since`, oldest first.
        ---
        get:
          parameters:
          - {in: query, name: since, schema: {type: string, format: date-time}, required: true}
          - {in: query, name: page, schema: {type: integer}, description: from 1 (smaller reads as 1)}
          - {in: query, name: page_size, schema: {type: integer}, description: 1 to 500 (clamped)}
          responses:
            200: {description: attempts}
            400: {$ref: '#/components/responses/400'}
        """
        paging = _paging()
        try:
            since = datetime.fromisoformat(request.args.get("since", "").strip())
        except ValueError:
            return self.response_400(message="since must be an ISO date-time, e.g. 2026-11-24T00:00:00")
        if paging is None:
            return self.response_400(message="page / page_size must be integers")
        page, size = paging
        rows, total = phone_revisit.attempts_page(since, page, size)
        return self.response(200, count=total, page=page, result=[_attempt_json(a) for a in rows])
