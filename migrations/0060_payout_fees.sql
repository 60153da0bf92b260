-- Transaction fees of payouts (issue 10, items 7 and 8). Amounts are planck, NUMERIC(39,0).
--
-- fee_charged: what the recipient pays for the transaction: a withdrawal's network fee, quoted
--   before the viewer confirms and debited from their balance together with the amount (and
--   refunded with it if the payout fails or expires). 0 for creator payouts: the platform pays
--   those fees out of its platform fee, and batching keeps them small.
-- chain_fee: what the escrow really paid, read from the block's TransactionFeePaid event once
--   the payout is included (NULL before).
ALTER TABLE payouts
    ADD COLUMN fee_charged NUMERIC(39, 0) NOT NULL DEFAULT 0 CHECK (fee_charged >= 0),
    ADD COLUMN chain_fee   NUMERIC(39, 0) CHECK (chain_fee >= 0);

