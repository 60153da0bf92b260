-- The words that go with a tip (POST /api/streams/{id}/tips, /api/videos/{id}/tips).
-- The money is the meter's and the `payments` row's (payment_type 'tip', written by settlement,
-- same id); this row keeps what the payment does not: the message and when the tip was sent.
-- Written after the meter paid, once per payment id (a retry after a crash finds it).
CREATE TABLE IF NOT EXISTS tip_messages (
    payment_id  UUID PRIMARY KEY,
    message     TEXT NOT NULL DEFAULT '' CHECK (char_length(message) <= 200),
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- A live stream's chat history shows its recent tips (signaling/realtime/chat.py): settled tips
-- by what they were for, a small partial index beside the many stream_view payments.
CREATE INDEX IF NOT EXISTS idx_payments_tip_reference ON payments (reference_id, created_at)
    WHERE payment_type = 'tip';
