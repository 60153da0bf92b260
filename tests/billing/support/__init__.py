"""Helpers the billing tests share: rows, worker processes, chain money, the money soak."""
