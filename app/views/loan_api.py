"""REST API of the loan trial calculation (保全试算) for the core system (role Integration, JWT): the
same figures as `flask servicing quote` / `payoff` and the customer's pages (app/services/loan.py).

    GET /api/v1/loan/<policy_no>/quote?amount=12000.00&on=2026-11-30
    GET /api/v1/loan/<policy_no>/payoff?on=2026-11-30&amount=500.00

A refused loan or repayment is still a calculation: 200 with possible=false and the reasons. Unusable
input answers 400 (an amount or a day that is none) or 404 (no such policy).
"""
from flask import request
from flask_appbuilder.api import BaseApi, expose, protect, safe

from app.services import loan
from app.services.errors import DomainError
from app.views.api import TruthfulSpec

MONEY = {"type": "string", "pattern": r"^[0-9]+\.[0-9]{2}$", "example": "12000.00"}
RATE = {"type": "string", "pattern": r"^[0-9]+\.[0-9]{4}$", "example": "0.0500"}
DAY = {"type": "string", "format": "date"}
REASONS = {"type": "array", "description": "why it is refused (empty when possible), in Chinese",
           "items": {"type": "object", "required": ["code", "message"],
                     "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}
QUOTE_SCHEMA = {
    "type": "object",
    "required": ["policy_no", "on", "possible", "amount", "cash_value", "loan_ratio", "unpaid_principal",
                 "unpaid_interest", "loanable_amount", "annual_rate", "annual_rate_percent", "stamp_duty",
                 "credited_amount", "due_on", "needs_id_images", "reasons"],
    "properties": {
        "policy_no": {"type": "string"}, "on": DAY, "possible": {"type": "boolean"},
        "amount": MONEY, "cash_value": MONEY, "loan_ratio": RATE,
        "unpaid_principal": MONEY, "unpaid_interest": {**MONEY, "description": "to the day `on`"},
        "loanable_amount": {**MONEY, "description": "可贷金额: ratio × cash value − unpaid principal − interest"},
        "annual_rate": {**RATE, "description": "the rate in force for a new loan (simple, actual/365)"},
        "annual_rate_percent": MONEY,
        "stamp_duty": {**MONEY, "description": "印花税: 0.05‰ of the amount over the threshold"},
        "credited_amount": {**MONEY, "description": "实际入账金额: amount − stamp duty"},
        "due_on": {**DAY, "description": "the loan's term from the day the money arrives (taken as `on`)"},
        "needs_id_images": {"type": "boolean"}, "reasons": REASONS,
    },
}
LOAN_SCHEMA = {
    "type": "object",
    "properties": {
        "loan_id": {"type": "integer"}, "principal": MONEY, "interest": MONEY, "total": MONEY,
        "annual_rate": RATE, "interest_from": DAY, "days": {"type": "integer"},
        "due_on": {**DAY, "nullable": True},
    },
}
PAYOFF_SCHEMA = {
    "type": "object",
    "required": ["policy_no", "on", "possible", "principal", "interest", "total", "loans", "reasons"],
    "properties": {
        "policy_no": {"type": "string"}, "on": DAY, "possible": {"type": "boolean"},
        "principal": MONEY, "interest": {**MONEY, "description": "to the day `on`"}, "total": MONEY,
        "loans": {"type": "array", "items": {"$ref": "#/components/schemas/LoanBalance"}},
        "reasons": REASONS,
        "repayment": {"type": "object", "description": "with `amount`: how it splits, interest first",
                      "properties": {"amount": MONEY, "interest_part": MONEY, "principal_part": MONEY,
                                     "principal_after": MONEY, "closes_loans": {"type": "boolean"}}},
    },
}


class LoanApi(TruthfulSpec, BaseApi):
    resource_name = "loan"
    openapi_spec_tag = "Policy loan"
    allow_browser_login = False  # the core system signs in with JWT
    base_permissions = ["can_get"]
    method_permission_name = {"quote": "get", "payoff": "get"}
    openapi_spec_component_schemas = ()
    openapi_spec_methods = {}

    def add_apispec_components(self, api_spec):
        super().add_apispec_components(api_spec)
        for name, schema in (("LoanQuote", QUOTE_SCHEMA), ("LoanBalance", LOAN_SCHEMA),
                             ("LoanPayoff", PAYOFF_SCHEMA)):
            if name not in api_spec.components.schemas:
                api_spec.components.schema(name, schema)

    def _answer(self, calculate, *args):
        try:
            result = calculate(*args)
        except DomainError as error:
            if error.status == 404:
                return self.response_404()
            return self.response_400(message=error.message)
        return self.response(200, **result.as_json())

    @expose("/<policy_no>/quote", methods=["GET"])
    @protect()
    @safe
    def quote(self, policy_no):
        """Trial calculation of a new policy loan (保单贷款试算).
        ---
        get:
          summary: 可贷金额, rate, stamp duty, credited amount and due date of a loan of `amount`
          parameters:
          - {in: path, name: policy_no, required: true, schema: {type: string}}
          - {in: query, name: amount, required: true, description: 'yuan, at most 2 decimals',
             schema: {type: string, pattern: '^[0-9]{1,12}([.][0-9]{1,2})?$', example: '12000.00'}}
          - {in: query, name: on, description: 'the day (default today), 1900 to 2999',
             schema: {type: string, format: date, pattern: '^(19|2[0-9])[0-9]{2}-'}}
          responses:
            200:
              description: the figures; possible=false with the reasons when the loan is refused
              content:
                application/json:
                  schema: {$ref: '#/components/schemas/LoanQuote'}
            400: {$ref: '#/components/responses/400'}
            404: {$ref: '#/components/responses/404'}
        """
        return self._answer(loan.quote, policy_no, request.args.get("amount", ""), request.args.get("on", ""))

    @expose("/<policy_no>/payoff", methods=["GET"])
    @protect()
    @safe
    def payoff(self, policy_no):
        """What a policy's loans owe on a day (保单还款试算).
        ---
        get:
          summary: unpaid principal, interest to the day and total; with `amount`, its split
          parameters:
          - {in: path, name: policy_no, required: true, schema: {type: string}}
          - {in: query, name: on, description: 'the day (default today), 1900 to 2999',
             schema: {type: string, format: date, pattern: '^(19|2[0-9])[0-9]{2}-'}}
          - {in: query, name: amount, description: 'a repayment to split (interest first), yuan',
             schema: {type: string, pattern: '^[0-9]{1,12}([.][0-9]{1,2})?$', example: '500.00'}}
          responses:
            200:
              description: the debt; possible=false with the reasons (nothing owed, amount above the total)
              content:
                application/json:
                  schema: {$ref: '#/components/schemas/LoanPayoff'}
            400: {$ref: '#/components/responses/400'}
            404: {$ref: '#/components/responses/404'}
        """
        return self._answer(loan.payoff, policy_no, request.args.get("on", ""), request.args.get("amount", ""))


def register_loan_api(appbuilder):
    appbuilder.add_api(LoanApi)
