"""Servicing (保全): the application every kind shares (application.py, its workflow in states.py, the
service time limits in working days in workdays.py); the kinds' own rules live beside it."""
