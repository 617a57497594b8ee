"""The shared helper for tests that go through a face check: the customer agrees to the biometric notice
(services/biometric.py) first, as on the notice page's 同意并继续, so the face page comes straight up."""


def agree_biometrics(*customer_ids, purposes=None):
    """Store the customers' consent to the current notice for these purposes (all of them by default)."""
    from app.services import biometric, unit

    with unit.work():
        for customer_id in customer_ids:
            for purpose in purposes or biometric.PURPOSES:
                if not biometric.has_agreed(customer_id, purpose):
                    biometric.agree(customer_id, purpose, ip="127.0.0.1", user_agent="pytest")


def agree_everyone(purposes=None):
    """Every customer on file agrees (for tests that do not care which customer takes the face check)."""
    from app.extensions import db
    from app.models import Customer

    agree_biometrics(*[c for (c,) in db.session.query(Customer.id)], purposes=purposes)


def agree_in_browser(page):
    """同意并继续 on the biometric notice a Playwright page shows (the browser tests' way through it)."""
    page.wait_for_selector("#biometric-agree")
    with page.expect_navigation():
        page.click("#biometric-agree")
