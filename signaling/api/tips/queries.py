"""Named queries of tips: the message kept beside the payment, once per payment id."""

from __future__ import annotations

import uuid
from datetime import datetime

from signaling.db import Db


async def record(db: Db, payment_id: uuid.UUID, message: str) -> datetime:
    """Keep a paid tip's message; when it was sent (the first time, for a retried tip)."""
    created: datetime = await db.fetchval(
        """INSERT INTO tip_messages (payment_id, message) VALUES ($1, $2)
           ON CONFLICT (payment_id) DO UPDATE SET payment_id = EXCLUDED.payment_id
           RETURNING created_at""",
        payment_id,
        message,
    )
    return created
