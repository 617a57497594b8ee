"""REST API of the loan trial calculation (保全试算) for the core system (role Integration, JWT): the
same figures as `flask servicing quote` / `payoff` and the customer's pages (app/services/loan.py).

    GET /api/v1/loan/<policy_no>/quote?amount=12000.00&on=2026-11-30
    GET /api/v1/loan/<policy_no>/payoff?on=2026-11-30&amount=500.00

A refused loan or repayment is still a calculation: 200 with possible=false and the reasons. Unusable
input answers 400 (an amount or a day that is none) or 404 (no such policy).

The payment system reads what to pay and what to collect (role Integration, JWT): the payment
instructions give the full bank card number (kept encrypted at rest, issue 15 item 4; nowhere else shown
whole), and every answer that gives one is a "reveal" audit event:

    GET  /api/v1/loan/<loan_id>/payment-instruction                 a PENDING loan's payee account and amount
    GET  /api/v1/loan/repayment/<application_no>/payment-instruction an approved repayment's account to debit

The payment system reports the money (role Integration, JWT; app/services/ledger.py decides):

    POST /api/v1/loan/<loan_id>/disbursement  {"arrived_on": "2026-11-30"}   the loan's money arrived
    POST /api/v1/loan/<loan_id>/repayment     {"amount": "500.00", "paid_on": "2026-11-30",
                                               "payment_ref": "P123", "result": "PAID", "application_no": ...}
"""
from flask import g, request
from flask_babel import gettext as _
from flask_appbuilder.api import BaseApi, expose, protect, safe

from app.security import API_ROLES, role_names
from app.services import audit, ledger, loan, unit
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
        "rate_source": {"type": "string", "enum": ["rate_table", "setting"],
                        "description": "rate_table: the rate the company declared for the day; setting: "
                                       "none declared yet, the business setting LOAN_ANNUAL_RATE"},
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


LOAN_STATE_SCHEMA = {
    "type": "object",
    "required": ["loan_id", "status", "principal", "outstanding_principal", "annual_rate"],
    "properties": {
        "loan_id": {"type": "integer"}, "status": {"type": "string", "enum": ["PENDING", "ACTIVE", "REPAID",
                                                                              "ROLLED_OVER"]},
        "principal": MONEY, "outstanding_principal": MONEY, "interest_carried": MONEY, "annual_rate": RATE,
        "disbursed_on": {**DAY, "nullable": True}, "due_on": {**DAY, "nullable": True},
        "interest_paid_to": {**DAY, "nullable": True},
        "application_no": {"type": "string", "nullable": True},
        "application_status": {"type": "string", "nullable": True},
    },
}


ACCOUNT_SCHEMA = {
    "type": "object",
    "required": ["bank", "bank_name", "account_name", "account_no"],
    "description": "the policyholder's own bank account as entered and checked (listed bank, 16-19 digits with "
                   "Luhn, opened in their own name; no credit card to debit)",
    "properties": {
        "bank": {"type": "string", "nullable": True, "description": "the bank's code (ICBC, CCB, ...)"},
        "bank_name": {"type": "string", "nullable": True, "example": "中国建设银行"},
        "account_name": {"type": "string", "nullable": True, "description": "户名: the policyholder's name"},
        "account_no": {"type": "string", "pattern": "^[0-9]{16,19}$", "example": "6217000010111758507",
                       "description": "the FULL card number (decrypted; this answer is a reveal audit event)"},
    },
}
PAYMENT_INSTRUCTION_SCHEMA = {
    "type": "object",
    "required": ["loan_id", "application_no", "policy_no", "status", "principal", "stamp_duty", "amount",
                 "account"],
    "properties": {
        "loan_id": {"type": "integer"}, "application_no": {"type": "string"}, "policy_no": {"type": "string"},
        "status": {"type": "string", "enum": ["PENDING"]}, "principal": MONEY, "stamp_duty": MONEY,
        "amount": {**MONEY, "description": "实际入账金额: what to pay (principal − stamp duty)"},
        "account": {"$ref": "#/components/schemas/LoanAccount"},
    },
}
DEBIT_INSTRUCTION_SCHEMA = {
    "type": "object",
    "required": ["application_no", "policy_no", "status", "amount", "loans", "account"],
    "properties": {
        "application_no": {"type": "string"}, "policy_no": {"type": "string"}, "status": {"type": "string"},
        "amount": {**MONEY, "description": "what to collect"},
        "interest_part": {**MONEY, "nullable": True}, "principal_part": {**MONEY, "nullable": True},
        "loans": {"type": "array", "items": {"type": "integer"}, "description": "the loans it repays"},
        "account": {"$ref": "#/components/schemas/LoanAccount"},
    },
}


def loan_state(row):
    def day(value):
        return value.isoformat() if value else None
    return {"loan_id": row.id, "status": row.status, "principal": f"{row.principal:.2f}",
            "outstanding_principal": f"{row.outstanding_principal:.2f}",
            "interest_carried": f"{(row.interest_carried or 0):.2f}", "annual_rate": f"{row.annual_rate:.4f}",
            "disbursed_on": day(row.disbursed_on), "due_on": day(row.due_on),
            "interest_paid_to": day(row.interest_paid_to),
            "application_no": row.application.application_no if row.application else None,
            "application_status": row.application.status if row.application else None}


class LoanApi(TruthfulSpec, BaseApi):
    resource_name = "loan"
    openapi_spec_tag = "Policy loan"
    allow_browser_login = False  # the core system signs in with JWT
    base_permissions = ["can_get", "can_post"]
    method_permission_name = {"quote": "get", "payoff": "get", "disbursement": "post", "repayment": "post",
                              "payment_instruction": "get", "debit_instruction": "get"}
    openapi_spec_component_schemas = ()
    openapi_spec_methods = {}

    def add_apispec_components(self, api_spec):
        super().add_apispec_components(api_spec)
        for name, schema in (("LoanQuote", QUOTE_SCHEMA), ("LoanBalance", LOAN_SCHEMA),
                             ("LoanPayoff", PAYOFF_SCHEMA), ("LoanState", LOAN_STATE_SCHEMA),
                             ("LoanAccount", ACCOUNT_SCHEMA), ("LoanPaymentInstruction", PAYMENT_INSTRUCTION_SCHEMA),
                             ("LoanDebitInstruction", DEBIT_INSTRUCTION_SCHEMA)):
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

    def _instruction(self, read):
        """A payment instruction, read and audited in one unit of work: only for the API roles (Integration),
        whatever permission a token's user holds; 404 / 409 with the reason otherwise."""
        if not role_names(g.user) & API_ROLES:
            return self.response_403()
        try:
            with unit.work(), audit.acting_as(f"api:{g.user.username}", "user", g.user.id):
                found = read()
        except DomainError as error:
            if error.status == 404:
                return self.response_404()
            return self.response(error.status if error.status in (400, 409) else 400, message=error.message)
        return self.response(200, **found)

    @expose("/<int:loan_id>/payment-instruction", methods=["GET"])
    @protect()
    @safe
    def payment_instruction(self, loan_id):
        """The payment instruction of a loan waiting for its money (放款指令): where to pay, how much.
        ---
        get:
          summary: the amount to credit of a PENDING loan and the payee account with its FULL card number
          description: For the payment system only (role Integration). The card number is kept encrypted at
            rest and shown whole nowhere else; every answer that gives it is a reveal audit event (who,
            when, which loan, the number masked). Refused (409) once the arrival of the money is recorded,
            while the application is not approved, and for a loan made before full numbers were kept.
          parameters:
          - {in: path, name: loan_id, required: true, schema: {type: integer}}
          responses:
            200:
              description: the loan's instruction
              content:
                application/json:
                  schema: {$ref: '#/components/schemas/LoanPaymentInstruction'}
            404: {$ref: '#/components/responses/404'}
            409:
              description: not waiting for its money, not approved, or no full card number on file
              content:
                application/json:
                  schema: {type: object, properties: {message: {type: string}}}
        """
        return self._instruction(lambda: ledger.payment_instruction(loan_id))

    @expose("/repayment/<application_no>/payment-instruction", methods=["GET"])
    @protect()
    @safe
    def debit_instruction(self, application_no):
        """The collection instruction of an approved repayment (扣款指令): which account to debit, how much.
        ---
        get:
          summary: the amount of an approved 保单还款 application and the account to debit with its FULL card number
          description: For the payment system only (role Integration). The card number is kept encrypted at
            rest and shown whole nowhere else; every answer that gives it is a reveal audit event. Refused
            (409) when the application is not approved or already completed (its result recorded), and for one
            made before full numbers were kept. The result is reported with POST /loan/{loan_id}/repayment.
          parameters:
          - {in: path, name: application_no, required: true, schema: {type: string, maxLength: 32}}
          responses:
            200:
              description: the repayment's instruction
              content:
                application/json:
                  schema: {$ref: '#/components/schemas/LoanDebitInstruction'}
            404: {$ref: '#/components/responses/404'}
            409:
              description: not approved, already completed, or no full card number on file
              content:
                application/json:
                  schema: {type: object, properties: {message: {type: string}}}
        """
        return self._instruction(lambda: ledger.debit_instruction(application_no))

    def _record(self, loan_id, write):
        """Run `write` in one unit of work (again after a lock wait); the loan's state, or the refusal
        with the status the error map gives it (400, 404, 409)."""
        def attempt():
            with unit.work():
                return loan_state(write())
        try:
            state = unit.retry_on_lock(attempt)
        except DomainError as error:
            if error.status == 404:
                return self.response_404()
            return self.response(error.status if error.status in (400, 409) else 400, message=error.message)
        return self.response(200, **state)

    @expose("/<int:loan_id>/disbursement", methods=["POST"])
    @protect()
    @safe
    def disbursement(self, loan_id):
        """Record that a loan's money arrived (放款到账): interest accrues from that day.
        ---
        post:
          summary: the payment system reports the day the money of an approved loan arrived
          description: Once per loan; the loan's application is then completed. Recording it again, or for
            a loan whose application is not approved, is refused (409).
          parameters:
          - {in: path, name: loan_id, required: true, schema: {type: integer}}
          requestBody:
            required: true
            content:
              application/json:
                schema:
                  type: object
                  required: [arrived_on]
                  properties:
                    arrived_on: {type: string, format: date, description: 'the day the money arrived, not after today'}
          responses:
            200:
              description: the loan, now ACTIVE, with its due date
              content:
                application/json:
                  schema: {$ref: '#/components/schemas/LoanState'}
            400: {$ref: '#/components/responses/400'}
            404: {$ref: '#/components/responses/404'}
            409:
              description: recorded already, or the application is not approved
              content:
                application/json:
                  schema: {type: object, properties: {message: {type: string}}}
        """
        payload = request.get_json(silent=True)
        if not isinstance(payload, dict) or not isinstance(payload.get("arrived_on"), str):
            return self.response_400(message=_("请求体应为 JSON 对象,arrived_on 为到账日期(YYYY-MM-DD)"))
        return self._record(loan_id, lambda: ledger.disburse(
            loan_id, payload["arrived_on"], actor=f"api:{g.user.username}", user_id=g.user.id))


    @expose("/<int:loan_id>/repayment", methods=["POST"])
    @protect()
    @safe
    def repayment(self, loan_id):
        """Record a repayment's payment result (还款结果): a PAID one enters the loan's ledger.
        ---
        post:
          summary: the payment system reports a repayment's result; interest first, then principal
          description: Only a PAID result enters the ledger, split interest first (to `paid_on`), then
            principal; repaying everything closes the loan (REPAID). The named LOAN_REPAYMENT application
            is completed. One payment_ref enters once (409); an amount above the total owed is refused (409).
          parameters:
          - {in: path, name: loan_id, required: true, schema: {type: integer}}
          requestBody:
            required: true
            content:
              application/json:
                schema:
                  type: object
                  required: [amount, paid_on, payment_ref]
                  properties:
                    amount: {type: string, pattern: '^[0-9]{1,12}([.][0-9]{1,2})?$', example: '500.00'}
                    paid_on: {type: string, format: date}
                    payment_ref: {type: string, minLength: 1, maxLength: 48, description: "the payment system's reference"}
                    result: {type: string, enum: [PAID, FAILED], default: PAID}
                    application_no: {type: string, maxLength: 32, description: "the customer's 保单还款 application"}
          responses:
            200:
              description: the loan after the repayment (unchanged for FAILED)
              content:
                application/json:
                  schema: {$ref: '#/components/schemas/LoanState'}
            400: {$ref: '#/components/responses/400'}
            404: {$ref: '#/components/responses/404'}
            409:
              description: recorded already, the loan not active, the amount above the total, or the application not approved
              content:
                application/json:
                  schema: {type: object, properties: {message: {type: string}}}
        """
        payload = request.get_json(silent=True)
        fields = ("amount", "paid_on", "payment_ref")
        if not isinstance(payload, dict) or not all(isinstance(payload.get(f), str) for f in fields) \
                or not isinstance(payload.get("result", "PAID"), str) \
                or not isinstance(payload.get("application_no") or "", str):
            return self.response_400(message=_("请求体应为 JSON 对象,含 amount、paid_on、payment_ref(字符串)"))
        return self._record(loan_id, lambda: ledger.record_repayment(
            loan_id, payload["amount"], payload["paid_on"], payload["payment_ref"], actor=f"api:{g.user.username}",
            user_id=g.user.id, application_no=payload.get("application_no") or None,
            result=payload.get("result", "PAID"))[0])


def register_loan_api(appbuilder):
    appbuilder.add_api(LoanApi)
