"""The customer's policy loan and repayment (保单贷款 / 保单还款, DOMAIN.md sections 4 and 5, issue 11
points 2 and 5): which of their policies may borrow or repay, the checks of what they entered, the rule
trace built from the trial calculation (services/loan.py), and the servicing application.

Each operation takes the customer's id and the plain values of the form; the view runs it in
unit.work(). The checks run in the seed's order (amount, account, agreement, ID card, face, servicing
password) and the SMS code is consumed last, so a refusal never spends it. A policy that is not the
customer's own (as policyholder) is "not found", whatever its id.
"""
import re
from dataclasses import dataclass
from decimal import Decimal

from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import func

from app.extensions import db
from app.models import IdentityVerification, Policy
from app.services import account, clock, codes, identity, loan, privacy, settings
from app.services.errors import DomainError, message_for
from app.services.money import to_money
from app.services.servicing import application as servicing
from app.services.servicing import consent, dispatch
from app.services.validation import luhn_valid, normalize_text

# 收款/付款账户: the banks the payment system pays to and collects from (code -> name)
BANKS = {
    "ICBC": _l("中国工商银行"), "ABC": _l("中国农业银行"), "BOC": _l("中国银行"), "CCB": _l("中国建设银行"),
    "BOCOM": _l("交通银行"), "PSBC": _l("中国邮政储蓄银行"), "CMB": _l("招商银行"), "CITIC": _l("中信银行"),
    "CEB": _l("中国光大银行"), "CMBC": _l("中国民生银行"), "CIB": _l("兴业银行"), "SPDB": _l("浦发银行"),
}
# A credit card is refused as the paying account (issue 11 point 5). The rule: the card's issuer
# prefix (BIN). Debit cards issued in China are UnionPay 62xxxx cards; 3/4/5 are the international
# credit brands (JCB/American Express, Visa, Mastercard), and UnionPay's own credit ranges begin 625
# and 628. A bank's table of BINs can replace this when the payment system provides one.
CREDIT_CARD_PREFIXES = ("3", "4", "5", "625", "628")
FACE_PURPOSE = "LOAN"
CODE_PURPOSE = "SERVICING"


def face_amount():
    """大额资金交易,须进行人脸识别: above this amount a photo face check passed within the last minutes."""
    return Decimal(str(settings.get("LOAN_FACE_AMOUNT")))


def face_valid_minutes():
    return int(settings.get("LOAN_FACE_VALID_MINUTES"))


# --- what the customer may do ------------------------------------------------------------------

@dataclass
class Candidate:
    policy: Policy
    reasons: list  # [{"code", "message"}]: empty when the policy can take a loan


def _verified(customer_id):
    customer = account.customer(customer_id)
    if customer is None:
        raise DomainError("account_not_bound")
    if customer.auth_status != "VERIFIED":
        raise DomainError("servicing_not_verified")
    return customer


def loan_candidates(customer_id):
    """The customer's policies as policyholder, each with why it cannot take a loan now (if so)."""
    return [Candidate(policy, loan.refusals(policy)) for policy in account.policies_of(customer_id)]


def own_policy(customer_id, policy_id):
    """One of the customer's own policies (as policyholder); another's is not found."""
    policy = account.policy_of(customer_id, policy_id)
    if policy is None:
        raise DomainError("servicing_policy_not_found")
    return policy


def loan_page(customer_id, policy_id, amount_text=None):
    """The policy page's figures: the quote (of `amount_text`, else 0) and the unpaid loans."""
    policy = own_policy(customer_id, policy_id)
    try:
        quote = loan.quote(policy.policy_no, amount_text or "0")
    except DomainError:
        quote = loan.quote(policy.policy_no, "0")
    return policy, quote


def repayment_candidates(customer_id):
    """The customer's policies with loans whose money arrived, each with its payoff today."""
    found = []
    for policy in account.policies_of(customer_id):
        owed = loan.payoff(policy.policy_no)
        if owed.loans:
            found.append((policy, owed))
    return found


def repayment_page(customer_id, policy_id):
    policy = own_policy(customer_id, policy_id)
    owed = loan.payoff(policy.policy_no)
    if not owed.loans:
        raise DomainError("loan_none_unpaid")
    return policy, owed


# --- the account and the other checks ----------------------------------------------------------

def card_digits(text):
    return re.sub(r"[\s-]", "", normalize_text(text))


def is_credit_card(card):
    return card.startswith(CREDIT_CARD_PREFIXES)


def check_account(holder, bank, card_text, account_name, refuse_credit=False):
    """收款/付款账户: a bank of the list, 16-19 digits passing Luhn, opened in the policyholder's own
    name (须以本人的真实姓名开立); the values as the payload stores them (the card masked). The full number
    (card_digits) goes to the application's encrypted account_no column, never into the payload."""
    if bank not in BANKS:
        raise DomainError("servicing_bank_unknown")
    card = card_digits(card_text)
    if not re.fullmatch(r"[0-9]{16,19}", card, re.ASCII):
        raise DomainError("servicing_card_length")
    if not luhn_valid(card):
        raise DomainError("servicing_card_invalid")
    if refuse_credit and is_credit_card(card):
        raise DomainError("servicing_credit_card")
    if not account._same_name(holder.name, normalize_text(account_name)):
        raise DomainError("servicing_account_not_own")
    with force_locale("zh"):
        bank_name = str(BANKS[bank])
    return {"bank": bank, "bank_name": bank_name, "card_masked": privacy.mask_card(card), "card_last4": card[-4:],
            "account_name": holder.name}


def _id_images(customer_id, front, back):
    """Both sides of the ID card, checked by content: images, and a face on the front (its photo)."""
    if not front or not back:
        raise DomainError("servicing_id_images_missing", amount=_money(_setting("ID_UPLOAD_THRESHOLD")))
    identity.check_image(front)  # not an image / no face / several faces: its own message
    stored = []
    for side, data in (("front", front), ("back", back)):
        _, fmt = identity._open_image(data)
        stored.append(identity._store("id_card", customer_id, identity.IMAGE_FORMATS[fmt], data))
    return stored


def _secrets(customer, password, code):
    """The servicing password, then the code sent to the reserved mobile (consumed: the last check)."""
    if not (password or "").strip():
        raise DomainError("servicing_password_missing")
    if not account.check_servicing_password(customer.id, password):
        raise DomainError("servicing_password_wrong")
    if not (code or "").strip():
        raise DomainError("servicing_code_missing")
    codes.verify(customer.mobile, CODE_PURPOSE, code)


def send_code(customer_id):
    """获取验证码: a code to the customer's reserved mobile (预留手机号) for a servicing item."""
    customer = _verified(customer_id)
    return codes.send(customer.mobile, CODE_PURPOSE, customer_id=customer.id)


def _money(value):
    return f"{to_money(value):.2f}"


def _check(name, passed, figures):
    with force_locale("zh"):  # the trace is a stored record, in Chinese
        return (str(name), bool(passed), str(figures))


# --- 保单贷款 ----------------------------------------------------------------------------------

def loan_checks(quote, policy, images_given, face_passed):
    """The rule trace of a loan: each check with its Chinese name, pass or fail and its figures."""
    refused = {reason["code"] for reason in quote.reasons}
    checks = [
        _check(_l("保单状态"), "loan_policy_not_in_force" not in refused,
               _l("保单状态 %(status)s", status=loan.POLICY_STATUSES.get(policy.status, policy.status))),
        _check(_l("产品可贷"), not refused & {"loan_product_not_allowed", "loan_unit_linked"},
               policy.product.name),
        _check(_l("无办理中的贷款或还款申请"), "loan_application_in_progress" not in refused,
               _l("办理中的申请 %(count)s 笔", count=int("loan_application_in_progress" in refused))),
        _check(_l("可贷金额"), quote.amount <= quote.loanable_amount and quote.amount > 0,
               _l("本次贷款金额 %(amount)s ≤ 可贷金额 %(loanable)s", amount=_money(quote.amount),
                  loanable=_money(quote.loanable_amount))),
    ]
    if quote.needs_id_images:
        checks.append(_check(_l("身份证影像"), images_given,
                             _l("本次贷款金额 %(amount)s > %(threshold)s,已上传身份证正反面",
                                amount=_money(quote.amount), threshold=_money(_setting("ID_UPLOAD_THRESHOLD")))))
    if quote.amount > face_amount():
        checks.append(_check(_l("人脸识别"), face_passed,
                             _l("本次贷款金额 %(amount)s > %(limit)s,%(minutes)s分钟内人脸识别通过",
                                amount=_money(quote.amount), limit=_money(face_amount()),
                                minutes=face_valid_minutes())))
    return checks


def _setting(key):
    from app.services import settings

    return settings.get(key)


def needs_face(amount):
    return amount > face_amount()


def start_face_check(customer_id, image_bytes, ip=None, user_agent=None):
    """The selfie of a large loan, compared with the enrolled face (identity's photo check); at most
    FACE_MAX_TRIES failed checks a day."""
    _verified(customer_id)
    failed = db.session.query(func.count(IdentityVerification.id)).filter(
        IdentityVerification.customer_id == customer_id, IdentityVerification.purpose == FACE_PURPOSE,
        IdentityVerification.status.in_(("FAILED", "UNUSABLE")),
        IdentityVerification.created_at >= clock.start_of_day(clock.today())).scalar()
    if failed >= _setting("FACE_MAX_TRIES"):
        raise DomainError("face_too_many_today")
    # counted again when the upload is accepted, under the customer's row lock, pending checks
    # included: a burst of uploads cannot all pass the count above (issue 14 item 4)
    limit = identity.TryLimit(limit=_setting("FACE_MAX_TRIES"), since=clock.start_of_day(clock.today()),
                              error="face_too_many_today", kind="PHOTO", purposes=(FACE_PURPOSE,))
    return identity.start_photo_verification(customer_id, image_bytes, FACE_PURPOSE, ip=ip, user_agent=user_agent,
                                             try_limit=limit)


def face_passed(customer_id):
    return identity.has_recent_pass(customer_id, FACE_PURPOSE, within_minutes=face_valid_minutes())


def existing(customer_id, request_key):
    """The application this form render already made (a double submit), or None."""
    found = servicing._by_key((request_key or "").strip()) if request_key else None
    return servicing._same_customer(found, customer_id) if found is not None else None


def apply_for_loan(customer_id, policy_id, request_key, amount_text, bank, card_no, account_name, agreed,
                   password, code, id_front=None, id_back=None):
    """Submit a policy loan: every check, then servicing.submit with the rule trace. Returns the
    application (the first one when this form render was already submitted)."""
    customer = _verified(customer_id)
    policy = own_policy(customer_id, policy_id)
    found = existing(customer_id, request_key)
    if found is not None:
        return found
    quote = loan.quote(policy.policy_no, amount_text)
    if quote.reasons:
        raise DomainError("servicing_refused", reason=quote.reasons[0]["message"])
    payee = check_account(customer, bank, card_no, account_name)
    if not agreed:
        raise DomainError("servicing_agreement")
    images = _id_images(customer.id, id_front, id_back) if quote.needs_id_images else []
    passed_face = face_passed(customer.id) if needs_face(quote.amount) else True
    if not passed_face:
        raise DomainError("servicing_face_required", amount=_money(face_amount()))
    _secrets(customer, password, code)
    verification = identity.latest_verification(customer.id, purpose=FACE_PURPOSE) \
        if needs_face(quote.amount) else None
    payload = {"amount": _money(quote.amount), "stamp_duty": _money(quote.stamp_duty),
               "credited_amount": _money(quote.credited_amount), "loanable_amount": _money(quote.loanable_amount),
               "annual_rate": f"{quote.annual_rate:.4f}", "account": payee, "id_images": images,
               "agreed_at": clock.now().isoformat(timespec="seconds"),
               "face_verification_id": verification.id if verification else None}
    application = servicing.submit(
        "POLICY_LOAN", customer.id, policy.id, payload, loan_checks(quote, policy, bool(images) or not
                                                                      quote.needs_id_images, passed_face),
        quote.amount, request_key, needs_consent=policy.insured_id != policy.holder_id,
        account_no=card_digits(card_no))  # the payee's full number, encrypted (the loan copies it)
    if verification is not None:
        application.identity_verification_id = verification.id
    if application.status == "CONSENT":
        consent.ask(application)  # the insured's SMS link (Insurance Law art. 34)
    dispatch.on_approved(application)  # straight through: the PENDING loan at once
    return application


# --- 保单还款 ----------------------------------------------------------------------------------

def repayment_checks(owed, amount):
    interest_part = sum((part[1] for part in owed.split), loan.ZERO)
    principal_part = sum((part[2] for part in owed.split), loan.ZERO)
    total = owed.principal + owed.interest
    return [
        _check(_l("还款金额"), 0 < amount <= total,
               _l("还款金额 %(amount)s ≤ 应还本息合计 %(total)s", amount=_money(amount), total=_money(total))),
        _check(_l("先还利息"), True,
               _l("利息 %(interest)s,本金 %(principal)s", interest=_money(interest_part),
                  principal=_money(principal_part))),
        _check(_l("付款账户"), True, _l("本人借记卡")),
    ]


def apply_for_repayment(customer_id, policy_id, request_key, amount_text, bank, card_no, account_name, code):
    """Submit a repayment (all or part, interest first); the payment result comes later from the
    payment system, which enters it in the ledger."""
    customer = _verified(customer_id)
    policy = own_policy(customer_id, policy_id)
    found = existing(customer_id, request_key)
    if found is not None:
        return found
    busy = loan.application_in_progress(policy.id)
    if busy is not None:  # a repayment waiting for its payment result: a second one could pay twice
        raise DomainError("servicing_refused",
                          reason=message_for("loan_application_in_progress", application_no=busy))
    owed = loan.payoff(policy.policy_no, amount_text=amount_text)
    if owed.amount is None:
        raise DomainError("repayment_not_positive")
    if owed.reasons:
        raise DomainError("servicing_refused", reason=owed.reasons[0]["message"])
    payer = check_account(customer, bank, card_no, account_name, refuse_credit=True)
    if not (code or "").strip():
        raise DomainError("servicing_code_missing")
    codes.verify(customer.mobile, CODE_PURPOSE, code)
    split = owed.as_json()["repayment"]
    payload = {"amount": split["amount"], "interest_part": split["interest_part"],
               "principal_part": split["principal_part"], "principal_after": split["principal_after"],
               "total": _money(owed.principal + owed.interest), "on": owed.on.isoformat(), "account": payer,
               "loans": [part[0].loan_id for part in owed.split]}
    return servicing.submit("LOAN_REPAYMENT", customer.id, policy.id, payload,
                            repayment_checks(owed, owed.amount), owed.amount, request_key,
                            account_no=card_digits(card_no))  # the account to debit, encrypted


# --- 我的申请 ----------------------------------------------------------------------------------

# the last step the customer sees, by item: the money, or the change made
DONE_STEPS = {"POLICY_LOAN": _l("贷款已到账"), "LOAN_REPAYMENT": _l("还款已到账"),
              "ANNUITY_METHOD": _l("领取方式已变更"), "BENEFICIARY": _l("受益人已变更")}
CONSENT_TO_DO = {"BENEFICIARY": _l("请被保险人通过短信链接完成人脸识别,查看新的受益人名单并确认同意")}


def steps(application, now=None):
    """The steps the customer sees, each (label, time or None): submitted, in review, approved,
    the money arrived (completed)."""
    found = [(_l("已提交"), application.submitted_at)]
    if application.status == "CONSENT":
        found.append((_l("待被保险人同意"), None))
    reviewing = application.status == "REVIEW" or (not application.decided_by_system and application.decided_at)
    if reviewing:  # in the queue since the submission, or since the insured's consent
        confirmed = [c.confirmed_at for c in application.consents if c.confirmed_at]
        found.append((_l("人工审核中"), max(confirmed) if confirmed else application.submitted_at))
    if application.status == "REJECTED":
        found.append((_l("未通过"), application.decided_at))
    elif application.status == "CANCELLED":
        found.append((_l("客户已撤销"), application.cancelled_at))
    else:
        found.append((_l("审核通过"), application.decided_at if application.status in ("APPROVED", "COMPLETED")
                      else None))
        found.append((DONE_STEPS.get(application.kind, _l("已办结")), application.completed_at))
    return found


def to_do(application):
    """What the customer must still do, or None."""
    if application.status == "CONSENT":
        return CONSENT_TO_DO.get(application.kind, _l("请被保险人通过短信链接完成人脸识别并确认同意"))
    if application.status == "REJECTED":
        return _l("如有疑问请致电客服热线")
    return None


__all__ = ["loan_candidates", "loan_page", "apply_for_loan", "repayment_candidates", "repayment_page",
           "apply_for_repayment", "send_code", "steps", "to_do", "BANKS", "check_account"]
