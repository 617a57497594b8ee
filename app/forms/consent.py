"""The form of the insured's consent page (phone H5): its shape only; the consent service decides."""
from flask_wtf import FlaskForm
from wtforms import SubmitField


class ConsentForm(FlaskForm):
    """同意 or 不同意, with the CSRF token."""
    confirm = SubmitField()
    decline = SubmitField()
