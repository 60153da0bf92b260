-- Billing: settlement batches, deposits, payouts. Amounts are planck, NUMERIC(39,0).

-- Every ledger batch applied to PostgreSQL, by its Redis Stream entry id. Inserting the batch
-- id in the same transaction as its effects makes at-least-once delivery apply exactly once
-- (money invariant 5).
CREATE TABLE settled_batches (
    batch_id       TEXT PRIMARY KEY,
    charges        INTEGER NOT NULL CHECK (charges >= 0),
    amount         NUMERIC(39, 0) NOT NULL CHECK (amount >= 0),          -- Σ viewer debits
    creator_amount NUMERIC(39, 0) NOT NULL CHECK (creator_amount >= 0),  -- Σ creator credits
    fee            NUMERIC(39, 0) NOT NULL CHECK (fee >= 0),             -- Σ platform fee
    settled_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK (amount = creator_amount + fee)
);

-- Stream-view payments carry their fee and batch, so PostgreSQL alone can prove
-- Σ debits = Σ creator credits + fee (money invariant 3).
ALTER TABLE payments
    ADD COLUMN fee      NUMERIC(39, 0) NOT NULL DEFAULT 0 CHECK (fee >= 0),
    ADD COLUMN batch_id TEXT REFERENCES settled_batches(batch_id),
    ADD CONSTRAINT payments_fee_within_amount CHECK (fee <= amount);
CREATE UNIQUE INDEX idx_payments_batch_view ON payments (batch_id, reference_id)
    WHERE batch_id IS NOT NULL;

-- Finalized transfers to the escrow account. (block_hash, event_index) identifies an event
-- on chain, so a restarted watcher cannot credit one twice (money invariant 7); credited_at
-- marks the Redis credit, which is itself idempotent by deposit id.
CREATE TABLE deposits (
    id           UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id      UUID NOT NULL REFERENCES users(id),
    from_account VARCHAR(64) NOT NULL,
    amount       NUMERIC(39, 0) NOT NULL CHECK (amount > 0),
    block_number BIGINT NOT NULL,
    block_hash   CHAR(66) NOT NULL,
    event_index  INTEGER NOT NULL,
    credited_at  TIMESTAMPTZ,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (block_hash, event_index)
);
CREATE INDEX idx_deposits_user ON deposits (user_id);
CREATE INDEX idx_deposits_uncredited ON deposits (created_at) WHERE credited_at IS NULL;

-- How far a chain follower got (the deposit watcher's last finalized block).
CREATE TABLE chain_cursors (
    name         TEXT PRIMARY KEY,
    block_number BIGINT NOT NULL,
    block_hash   CHAR(66) NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Payouts from the escrow: creators' earnings and viewers' withdrawals. The signed extrinsic is
-- stored before it is submitted, so after a crash it is found on chain or re-sent as the same
-- bytes, never signed again for the same money (money invariant 6).
CREATE TABLE payouts (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    kind            VARCHAR(20) NOT NULL CHECK (kind IN ('creator', 'withdrawal')),
    status          VARCHAR(20) NOT NULL DEFAULT 'created'
                    CHECK (status IN ('created', 'signed', 'submitted', 'in_block', 'finalized',
                                      'failed', 'expired')),
    total           NUMERIC(39, 0) NOT NULL CHECK (total > 0),
    signer          VARCHAR(64),
    extrinsic_hex   TEXT,
    extrinsic_hash  CHAR(66),
    nonce           BIGINT,
    era_start       BIGINT,
    era_period      INTEGER,
    block_number    BIGINT,
    block_hash      CHAR(66),
    extrinsic_index INTEGER,
    error           TEXT,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    finalized_at    TIMESTAMPTZ,
    CHECK (status = 'created' OR extrinsic_hex IS NOT NULL)
);
CREATE INDEX idx_payouts_open ON payouts (created_at)
    WHERE status IN ('created', 'signed', 'submitted', 'in_block');
CREATE TRIGGER update_payouts_updated_at BEFORE UPDATE ON payouts
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();

CREATE TABLE payout_items (
    payout_id    UUID NOT NULL REFERENCES payouts(id),
    user_id      UUID NOT NULL REFERENCES users(id),
    dest_account VARCHAR(64) NOT NULL,
    amount       NUMERIC(39, 0) NOT NULL CHECK (amount > 0),
    PRIMARY KEY (payout_id, user_id)
);
CREATE INDEX idx_payout_items_user ON payout_items (user_id);
