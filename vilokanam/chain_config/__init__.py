"""Data files of the local dev chain (chopsticks): the chain-spec extraction script."""
