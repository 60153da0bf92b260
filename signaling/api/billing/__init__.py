"""What a wallet needs to top up, and the payout views and queries shared by my lists and
the creator dashboard."""
