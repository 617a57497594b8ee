"""The customer's official-account pages (/my/): sign-in (WeChat OAuth2 or mobile + SMS code),
个人中心, binding, face + video liveness, servicing password. DOMAIN.md section 3; the seed's words.

Customers are not staff: their identity lives under its own session keys (customer_id, and before
binding the proven mobile or WeChat openid), set only here and never read by Flask-Login, whose
staff user sits under "_user_id". g.customer is set on every request of this blueprint so the audit
trail names the customer as the actor.

base.py holds the blueprint and what the pages share; signin.py, center.py, binding.py, face.py and
password.py add their routes to it; loan.py holds 保单贷款 and 保单还款, annuity.py 年金领取方式变更
and beneficiary.py 受益人变更.
"""
from flask import current_app

from app.views.account import (annuity, beneficiary, binding, center, face, loan, password,  # noqa: F401
                               signin, slip)  # (their routes)
from app.views.account.base import (CUSTOMER_KEYS, SESSION_CHALLENGE, SESSION_CUSTOMER,  # noqa: F401
                                    SESSION_MOBILE_HINT, SESSION_OPENID, SESSION_PHONE, SESSION_RESET_AT,
                                    SESSION_VERIFICATION, SESSION_WECHAT_STATE, bp)


def register_account():
    current_app.register_blueprint(bp)
