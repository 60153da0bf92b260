-- Background items a loop could not process: parked with their reason, never retried blindly,
-- so one bad deposit, payout or ledger batch never stops the loop for the others.
-- `vilokanam reconcile` lists the open ones; `vilokanam parked retry|resolve` closes them.
--   kind 'deposit':    ref = deposits.id; the deposit is not credited while a row exists.
--   kind 'payout':     ref = payouts.id; the payout is not driven while a row exists.
--   kind 'settlement': ref = the ledger entry id; it stays unacknowledged in Redis (so reconcile
--                      still counts it as unsettled) and is skipped until retried.
-- A retry deletes the row (the loop takes the item again); a resolve keeps it with a note (the
-- operator settled it outside the loop, e.g. refunded a deposit on chain).
CREATE TABLE parked_items (
    kind        VARCHAR(20) NOT NULL CHECK (kind IN ('deposit', 'payout', 'settlement')),
    ref         TEXT NOT NULL,
    reason      TEXT NOT NULL,
    amount      NUMERIC(39, 0),
    parked_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    resolved_at TIMESTAMPTZ,
    resolution  TEXT,
    PRIMARY KEY (kind, ref)
);
CREATE INDEX idx_parked_items_open ON parked_items (parked_at) WHERE resolved_at IS NULL;
