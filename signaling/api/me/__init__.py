"""Everything under /api/me: profile, balance, withdrawals, deposits, spending, follows feed."""
