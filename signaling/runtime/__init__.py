"""Billing inside the server (meter, tick, chain loops), node liveness, supervised loops."""
