"""annuity: the customer's pages (issue 12). To be filled in; the rules are in services/annuity.py."""
