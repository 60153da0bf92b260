"""Profiles: a user found by id, username or address, with follow counts; my avatar."""
