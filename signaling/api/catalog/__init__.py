"""Categories (admins manage them), video categorisation and video analytics."""
