"""Sign-in with a Substrate account, sessions, tokens, roles and the user rows."""
