"""E-revisit invitations: one short link and one SMS per customer for all their pending tasks,
and the optional day-2 reminder. The SMS go out after the commit that stored them."""
import secrets
from datetime import timedelta

from flask import current_app
from sqlalchemy import case, insert, select, update

from app.extensions import db
from app.models.customer import Customer
from app.models.policy import Policy
from app.models.product import Product
from app.models.revisit import RevisitLink, RevisitTask
from app.models.sms import SmsMessage
from app.services import audit, clock, sms, unit
from app.services import settings as business_settings
from app.services.revisit.states import sources_of, target_of

LINK_CODE_BYTES = 12  # 96 random bits, 16 URL-safe characters
INVITE_CHUNK = 2000
INVITABLE = sources_of("invite")
INVITED = target_of("invite")


def new_link_code():
    return secrets.token_urlsafe(LINK_CODE_BYTES)


def link_url(code):
    return current_app.config["PUBLIC_BASE_URL"].rstrip("/") + "/s/" + code


def _title(customer):
    return "先生" if customer.gender == "M" else "女士"


def issue_invitations(now=None, chunk=INVITE_CHUNK, send=True):
    """Give every customer with PENDING e-revisits one link and one SMS; returns links created."""
    now = now or clock.now()
    created = 0
    while True:
        links = unit.retry_on_lock(_invite_chunk, now, chunk, send)
        if links is None:
            break
        created += links
    return created


def _invite_chunk(now, chunk, send):
    """One chunk in one transaction; returns the links made, None when nothing is pending."""
    base = (RevisitTask.status.in_(INVITABLE), RevisitTask.channel == "ELECTRONIC",
            RevisitTask.erevisit_deadline > now)
    holders = db.session.execute(
        select(Policy.holder_id).join(RevisitTask, RevisitTask.policy_id == Policy.id)
        .where(*base).order_by(RevisitTask.id).limit(chunk)
    ).scalars().all()
    if not holders:
        db.session.rollback()
        return None
    holders = sorted(set(holders))
    # every pending task of these customers, so one customer never gets two links in one batch
    ids = db.session.execute(
        select(RevisitTask.id).join(Policy, RevisitTask.policy_id == Policy.id)
        .where(*base, Policy.holder_id.in_(holders)).order_by(RevisitTask.id)
    ).scalars().all()
    claimed = db.session.execute(
        update(RevisitTask).where(RevisitTask.id.in_(ids), RevisitTask.status.in_(INVITABLE))
        .values(status=INVITED, updated_at=now)
        .execution_options(synchronize_session=False))
    if claimed.rowcount == 0:
        db.session.commit()
        return 0
    # rows we moved are locked by us; rows a concurrent run moved carry its link already.
    # Lock only revisit_task rows (a FOR UPDATE over the join would lock policy and product
    # rows too and deadlock with the intake inserting policies); then read the rest plainly.
    mine_ids = db.session.execute(
        select(RevisitTask.id).where(RevisitTask.id.in_(ids), RevisitTask.status == INVITED,
                                     RevisitTask.link_id.is_(None)).with_for_update()
    ).scalars().all()
    mine = db.session.execute(
        select(RevisitTask.id, RevisitTask.erevisit_deadline, Policy.holder_id, Product.name)
        .join(Policy, RevisitTask.policy_id == Policy.id).join(Product, Policy.product_id == Product.id)
        .where(RevisitTask.id.in_(mine_ids)).order_by(RevisitTask.id)
    ).all() if mine_ids else []
    by_holder = {}
    for row in mine:
        by_holder.setdefault(row.holder_id, []).append(row)
    if not by_holder:
        db.session.commit()
        return 0
    batch = f"{now:%Y%m%d%H%M%S}-{secrets.token_hex(4)}"
    new_links = [dict(code=new_link_code(), customer_id=holder, batch=batch,
                      expires_at=min(r.erevisit_deadline for r in rows), face_attempts=0,
                      created_at=now, updated_at=now)
                 for holder, rows in by_holder.items()]
    db.session.execute(insert(RevisitLink.__table__), new_links)
    link_rows = db.session.execute(
        select(RevisitLink.id, RevisitLink.code, RevisitLink.customer_id)
        .where(RevisitLink.code.in_([link["code"] for link in new_links]))
    ).all()
    link_of = {r.customer_id: r for r in link_rows}
    # every claimed task gets its customer's link of this batch, in one statement
    link_of_task = case({r.id: link_of[r.holder_id].id for r in mine}, value=RevisitTask.id)
    db.session.execute(update(RevisitTask).where(RevisitTask.id.in_([r.id for r in mine]))
                       .values(link_id=link_of_task).execution_options(synchronize_session=False))
    message_ids = _queue_invitations(by_holder, link_of)
    if send:
        sms.send_after_commit(message_ids)
    audit.record(db.session, "invite", "revisit_task", None, {"status": list(INVITABLE)},
                 {"status": INVITED, "batch": batch, "tasks": len(mine), "links": len(by_holder)})
    db.session.commit()
    return len(by_holder)


def _queue_invitations(by_holder, link_of):
    """The EREVISIT_INVITE SMS of a batch, one per customer, stored with set-based INSERTs."""
    people = db.session.execute(select(Customer.id, Customer.name, Customer.gender, Customer.mobile)
                                .where(Customer.id.in_(list(by_holder)))).all()
    items = []
    for person in people:
        rows, link = by_holder[person.id], link_of[person.id]
        items.append(dict(phone=person.mobile, customer_id=person.id, link_id=link.id, params={
            "name": person.name, "title": _title(person),
            "product": "、".join(dict.fromkeys(r.name for r in rows)), "link": link_url(link.code)}))
    return sms.queue_many("EREVISIT_INVITE", items, purpose="EREVISIT")


def send_reminders(now=None, send=True):
    """Optional day-2 reminder (config EREVISIT_REMINDER_ENABLED): at most one per link."""
    if not business_settings.get("EREVISIT_REMINDER_ENABLED"):
        return 0
    now = now or clock.now()
    reminded = select(SmsMessage.id).where(SmsMessage.link_id == RevisitLink.id,
                                           SmsMessage.purpose == "EREVISIT_REMINDER").exists()
    open_task = select(RevisitTask.id).where(RevisitTask.link_id == RevisitLink.id,
                                             RevisitTask.status == INVITED).exists()
    link_ids = db.session.execute(
        select(RevisitLink.id).where(RevisitLink.expires_at > now,
                                     RevisitLink.created_at <= now - timedelta(days=1),
                                     open_task, ~reminded).order_by(RevisitLink.id)
    ).scalars().all()
    db.session.commit()
    message_ids = []
    with unit.work():
        for link_id in link_ids:
            # the link's row lock: two runs at once remind each customer once
            link = db.session.query(RevisitLink).filter_by(id=link_id).with_for_update().one()
            if db.session.query(SmsMessage.id).filter_by(link_id=link_id, purpose="EREVISIT_REMINDER").first():
                continue
            customer = link.customer
            message = sms.queue("EREVISIT_REMINDER", customer.mobile,
                                {"name": customer.name, "title": _title(customer),
                                 "deadline": f"{link.expires_at - timedelta(seconds=1):%Y-%m-%d %H:%M}",
                                 "link": link_url(link.code)},
                                purpose="EREVISIT_REMINDER", customer_id=customer.id, link_id=link.id)
            message_ids.append(message.id)
        if send:
            sms.send_after_commit(message_ids)
    return len(message_ids)
