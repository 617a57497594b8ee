"""Demo data: the seed's products, customers and policies, one user per role, templates.

seed() is idempotent (every row is looked up by its natural key first). bulk_policies()
adds N realistic policies with set-based INSERTs in chunks, for load tests.
"""
import random
from datetime import date, timedelta
from decimal import Decimal

from flask import current_app
from sqlalchemy import func, insert, select

from app.extensions import db
from app.models.customer import Customer
from app.models.policy import Beneficiary, Policy
from app.models.product import Product
from app.models.sms import SmsTemplate
from app.services import clock
from app.services.validation import make_resident_id
from app.services import settings as business_settings

DEMO_USERS = [
    ("admin", "Admin", "系统", "管理员"),
    ("supervisor", "Supervisor", "回访", "主管"),
    ("agent1", "Agent", "回访专员", "一"),
    ("agent2", "Agent", "回访专员", "二"),
    ("operator", "Operator", "保全", "专员"),
    ("auditor", "Auditor", "稽核", "专员"),
    ("integration", "Integration", "核心", "系统"),
]

PRODUCTS = [
    dict(code="AXH01", name="爱心人寿爱鑫红两全保险(分红型)", kind="PARTICIPATING", term_years=20,
         loan_allowed=True, has_death_benefit=True),
    dict(code="AXI01", name="爱心人寿爱心i+定期寿险", kind="TERM", term_years=20,
         loan_allowed=False, has_death_benefit=True),
    dict(code="AXB01", name="爱心人寿爱鑫宝年金保险", kind="ANNUITY", term_years=None,
         loan_allowed=True, has_death_benefit=True, annuity_options="ACCUMULATE,TO_UNIVERSAL",
         survival_beneficiary_changeable=False),
    dict(code="NNF01", name="爱心人寿年年丰盈终身寿险(万能型)", kind="UNIVERSAL", term_years=None,
         loan_allowed=True, has_death_benefit=True),
    dict(code="SHS01", name="爱心人寿守护神定期寿险", kind="TERM", term_years=30,
         loan_allowed=False, has_death_benefit=True),
]

# name, gender, birth date, mobile, area code, openid (bought on the official account)
CUSTOMERS = [
    ("C0001", "张德强", "M", date(1978, 3, 14), "13800138001", "110105", None),
    ("C0002", "爱小心", "F", date(1990, 6, 1), "13900139002", "310104", "oAiXin-demo-0002"),
    ("C0003", "马妍", "F", date(1986, 11, 29), "13601360003", "440305", "oAiXin-demo-0003"),
    ("C0004", "李明", "M", date(1982, 1, 20), "13700137004", "320106", None),
    ("C0005", "王芳", "F", date(1995, 9, 9), "15000150005", "510107", None),
]

# policy number (seed), product, holder, insured, days before today issued, premium, mode, years
POLICIES = [
    ("880000001522216", "AXH01", "C0001", "C0001", 1, "12000.00", "REGULAR", 10),
    ("880000001522217", "AXH01", "C0001", "C0001", 1, "8000.00", "REGULAR", 5),
    ("86000001296920", "AXI01", "C0002", "C0002", 2, "1200.00", "REGULAR", 20),
    ("86000000129691", "AXI01", "C0002", "C0002", 2, "960.00", "REGULAR", 20),
    ("860007775808888", "NNF01", "C0003", "C0003", 400, "50000.00", "SINGLE", None),
    ("860006373328888", "SHS01", "C0003", "C0003", 410, "3000.00", "REGULAR", 20),
    ("880007656378888", "AXB01", "C0003", "C0003", 420, "20000.00", "REGULAR", 10),
    ("880000002000001", "AXB01", "C0004", "C0004", 0, "10000.00", "REGULAR", 10),
    ("880000002000002", "AXH01", "C0005", "C0004", 0, "100000.00", "SINGLE", None),
    # 王芳 insures 李明 on a policy with a cash value: her loan waits for his consent (Insurance Law art. 34)
    ("880000002000003", "AXH01", "C0005", "C0004", 400, "50000.00", "SINGLE", None),
]

SMS_TEMPLATES = [
    dict(code="EREVISIT_INVITE", name="电子化回访邀请", provider_template_code="SMS_EREVISIT_01",
         content="尊敬的${name}${title}您好!感谢您选择爱心人寿,您购买的${product}保险产品已经承保,"
                 "现根据中国银保监会的要求,为了更好的维护您的相关权益,需要对您进行回访服务。"
                 "点击以下链接来体验科技带来的便捷吧! 链接: ${link} 爱心,让家庭更美好。"),
    dict(code="EREVISIT_REMINDER", name="电子化回访提醒", provider_template_code="SMS_EREVISIT_02",
         content="尊敬的${name}${title}您好!您的保单回访尚未完成,请于${deadline}前点击 ${link} 完成回访。"
                 "如有疑问请致电10109520。"),
    dict(code="VERIFY_CODE", name="验证码", provider_template_code="SMS_CODE_01",
         content="您的验证码为${code},${minutes}分钟内有效,请勿泄露给他人。"),
    # servicing applications (services/servicing/application.py): acceptance, decision, completion
    dict(code="SERVICING_ACCEPTED", name="保全申请受理", provider_template_code="SMS_SERVICING_01",
         content="尊敬的${name}您好!您的${item}申请(申请号${no})已受理,我们将在2个工作日内完成审核。"
                 "如有疑问请致电10109520。"),
    dict(code="SERVICING_DECIDED", name="保全申请审核结果", provider_template_code="SMS_SERVICING_02",
         content="尊敬的${name}您好!您的${item}申请(申请号${no})${result}。如有疑问请致电10109520。"),
    dict(code="SERVICING_COMPLETED", name="保全申请办结", provider_template_code="SMS_SERVICING_03",
         content="尊敬的${name}您好!您的${item}申请(申请号${no})已办理完成。如有疑问请致电10109520。"),
    dict(code="SERVICING_CONSENT", name="被保险人同意确认", provider_template_code="SMS_SERVICING_04",
         content="尊敬的${name}您好!您作为被保险人的保单有一项${item}申请需要您本人确认,请点击 ${link} "
                 "完成人脸识别后确认是否同意。如非您知晓的申请,请致电10109520。"),
    dict(code="LOAN_DUE_REMINDER", name="保单贷款到期提醒", provider_template_code="SMS_LOAN_01",
         content="尊敬的${name}您好!您保单${no}的贷款将于${due}到期(还有${days}天),应还本息${amount}元,"
                 "到期未还的利息将转为新的贷款本金。如有疑问请致电10109520。"),
    dict(code="LOAN_ROLLED_OVER", name="保单贷款到期转新贷通知", provider_template_code="SMS_LOAN_03",
         content="尊敬的${name}您好!您保单${no}的贷款已于${day}到期,未还利息${interest}元已转为新的贷款本金,"
                 "新贷款本金${amount}元,年利率${rate},到期日${due}。如有疑问请致电10109520。"),
    dict(code="LOAN_SUSPENDED", name="保单中止通知", provider_template_code="SMS_LOAN_02",
         content="尊敬的${name}您好!您保单${no}的贷款本息${amount}元已达到保单现金价值${cash_value}元,"
                 "保单效力已中止。如有疑问请致电10109520。"),
]


def seed(password):
    """Fill the demo rows that are missing; returns the list of (username, role) created."""
    created_users = _seed_users(password)
    products = {}
    for spec in PRODUCTS:
        product = db.session.query(Product).filter_by(code=spec["code"]).one_or_none()
        if product is None:
            product = Product(**spec, revisit_required=True,
                              hesitation_days=business_settings.get("HESITATION_DAYS"),
                              loan_ratio=business_settings.get("LOAN_RATIO"))
            db.session.add(product)
        products[spec["code"]] = product
    customers = {}
    for seq, (no, name, gender, birth, mobile, area, openid) in enumerate(CUSTOMERS, start=1):
        customer = db.session.query(Customer).filter_by(customer_no=no).one_or_none()
        if customer is None:
            sequence = seq * 2 + (1 if gender == "M" else 0)
            customer = Customer(customer_no=no, name=name, gender=gender, birth_date=birth,
                                id_type="RESIDENT_ID", id_number=make_resident_id(area, birth, sequence),
                                mobile=mobile, wechat_openid=openid, auth_status="UNVERIFIED")
            db.session.add(customer)
        customers[no] = customer
    db.session.flush()
    today = clock.today()
    for number, code, holder, insured, age, premium, mode, years in POLICIES:
        if db.session.query(Policy).filter_by(policy_no=number).count():
            continue
        issued = today - timedelta(days=age)
        product = products[code]
        policy = Policy(
            policy_no=number, product=product, holder=customers[holder], insured=customers[insured],
            issue_date=issued, receipt_signed_date=issued, effective_date=issued + timedelta(days=1),
            status="IN_FORCE", channel="OFFICIAL_ACCOUNT" if customers[holder].wechat_openid else "OFFLINE",
            premium=Decimal(premium), payment_mode=mode,
            payment_frequency="YEARLY" if mode == "REGULAR" else None, payment_years=years,
            next_due_date=_next_due(issued) if mode == "REGULAR" else None,
            sum_assured=Decimal(premium) * (20 if mode == "REGULAR" else 2),
            cash_value=(Decimal(premium) * Decimal("0.85")).quantize(Decimal("0.01")) if age > 30 else Decimal("0"),
            cash_value_date=today,
            annuity_method="ACCUMULATE" if product.kind == "ANNUITY" else None,
        )
        db.session.add(policy)
        db.session.flush()
        _default_beneficiaries(policy)
    for spec in SMS_TEMPLATES:
        if not db.session.query(SmsTemplate).filter_by(code=spec["code"]).count():
            db.session.add(SmsTemplate(**spec))
    db.session.commit()
    _seed_revisits(today)
    return created_users


def _seed_revisits(today):
    """The default questionnaire, and a revisit task for each policy still in its e-revisit window."""
    from app.services import questionnaire, revisit

    questionnaire.ensure_defaults()
    valid_days = business_settings.get("EREVISIT_VALID_DAYS")
    fresh = db.session.query(Policy.id).filter(Policy.issue_date > today - timedelta(days=valid_days + 1))
    for (policy_id,) in fresh.order_by(Policy.id):
        revisit.create_task_for_policy(policy_id)
    db.session.commit()


def _next_due(issued):
    try:
        return issued.replace(year=issued.year + 1)
    except ValueError:  # 29 February
        return issued.replace(year=issued.year + 1, day=28)


def _default_beneficiaries(policy):
    now = clock.now()
    holder = policy.holder
    # Death: the holder's spouse (demo); survival: the insured, as products default to.
    spouse_birth = date(holder.birth_date.year + 1, 5, 5)
    db.session.add(Beneficiary(
        policy_id=policy.id, kind="DEATH", version=1, name=holder.name[0] + "配偶",
        id_type="RESIDENT_ID", id_number=make_resident_id("110101", spouse_birth, 20 if holder.gender == "M" else 21),
        gender="F" if holder.gender == "M" else "M", birth_date=spouse_birth, id_valid_until=None,
        relationship_to_insured="SPOUSE", order=1, share=Decimal("100"), created_at=now))
    insured = policy.insured
    db.session.add(Beneficiary(
        policy_id=policy.id, kind="SURVIVAL", version=1, name=insured.name, id_type=insured.id_type,
        id_number=insured.id_number, gender=insured.gender, birth_date=insured.birth_date,
        relationship_to_insured="SELF", order=1, share=Decimal("100"), created_at=now))


def _seed_users(password):
    sm = current_app.appbuilder.sm
    from app.security import STAFF_ROLES

    for role in STAFF_ROLES:
        if sm.find_role(role) is None:
            sm.add_role(role)
    if sm.find_role(current_app.config["AUTH_ROLE_PUBLIC"]) is None:
        sm.add_role(current_app.config["AUTH_ROLE_PUBLIC"])
    created = []
    for username, role, first, last in DEMO_USERS:
        if sm.find_user(username=username) is None:
            user = sm.add_user(username, first, last, f"{username}@demo.aixin.local",
                               [sm.find_role(role)], password=password)
            if not user:
                raise RuntimeError(f"could not create user {username}")
            created.append((username, role))
    return created


SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉兰萍鹏辉建华红波宁欣怡子涵浩然梓轩一诺雨桐"
AREAS = ["110105", "310104", "440305", "320106", "510107", "330106", "420106", "610113", "370102", "350203"]


def bulk_policies(count, chunk=5000):
    """Insert `count` customers and policies with multi-row INSERTs; returns seconds taken."""
    import time

    started = time.perf_counter()
    products = db.session.query(Product).all()
    if not products:
        raise RuntimeError("run the base seed first")
    rng = random.Random(20261124)
    start = (db.session.scalar(select(func.max(Customer.id))) or 0) + 1
    today = clock.today()
    now = clock.now()
    done = 0
    while done < count:
        n = min(chunk, count - done)
        customers, policies = [], []
        for i in range(n):
            seq = start + done + i
            gender = "M" if rng.random() < 0.5 else "F"
            # area, birth date and sequence derive from seq, so ID numbers never collide
            area, j = AREAS[seq % len(AREAS)], seq // len(AREAS)
            birth = date(1950, 1, 1) + timedelta(days=(j // 500) % (365 * 55))
            customers.append(dict(
                id=seq, customer_no=f"B{seq:09d}", name=rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN),
                gender=gender, birth_date=birth, id_type="RESIDENT_ID",
                id_number=make_resident_id(area, birth, (j % 500) * 2 + (1 if gender == "M" else 0)),
                mobile=f"1{rng.choice('3456789')}{seq % 10 ** 9:09d}", auth_status="UNVERIFIED",
                created_at=now, updated_at=now))
            product = products[seq % len(products)]
            regular = rng.random() < 0.7
            premium = Decimal(rng.choice([960, 1200, 3000, 5000, 8000, 12000, 20000, 50000]))
            issued = today - timedelta(days=rng.randrange(0, 30))
            policies.append(dict(
                policy_no=f"99{seq:013d}", product_id=product.id, holder_id=seq, insured_id=seq,
                issue_date=issued, receipt_signed_date=issued, effective_date=issued + timedelta(days=1),
                status="IN_FORCE", channel="OFFLINE" if rng.random() < 0.6 else "OFFICIAL_ACCOUNT",
                premium=premium, payment_mode="REGULAR" if regular else "SINGLE",
                payment_frequency="YEARLY" if regular else None, payment_years=rng.choice([5, 10, 20]) if regular else None,
                next_due_date=_next_due(issued) if regular else None, sum_assured=premium * 20,
                cash_value=Decimal("0"), cash_value_date=today, created_at=now, updated_at=now))
        db.session.execute(insert(Customer.__table__), customers)
        db.session.execute(insert(Policy.__table__), policies)
        db.session.commit()
        done += n
    return time.perf_counter() - started
