"""Every table of the portal; importing this package registers them all."""
from flask_appbuilder.security.sqla.models import User  # noqa: F401

from app.models.audit import AuditEvent  # noqa: F401
from app.models.biometric import BiometricConsent  # noqa: F401
from app.models.customer import Customer  # noqa: F401
from app.models.identity import IdentityVerification  # noqa: F401
from app.models.policy import Beneficiary, Policy  # noqa: F401
from app.models.product import Product  # noqa: F401
from app.models.revisit import (CallAttempt, Question, QuestionnaireTemplate,  # noqa: F401
                                RevisitAnswer, RevisitEvidence, RevisitLink, RevisitTask)
from app.models.servicing import (ApplicationPolicy, Consent, LoanRepayment, PolicyLoan,  # noqa: F401
                                 ServicingApplication)
from app.models.screen import KeyScreen  # noqa: F401
from app.models.setting import Setting  # noqa: F401
from app.models.sms import SmsMessage, SmsTemplate, VerificationCode  # noqa: F401
