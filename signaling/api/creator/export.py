"""The creator's payments (viewing and tips, told apart by `type`) as RFC 4180 CSV, streamed
from one consistent snapshot."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import datetime

import asyncpg
from aiohttp import web

from signaling.api.creator import queries as dashboard_db
from signaling.http.json import planck, rfc3339_or_none
from signaling.keys import PG

CSV_COLUMNS = (
    "payment_id",
    "created_at",
    "type",
    "stream_id",
    "stream_title",
    "video_id",
    "viewer_account",
    "amount_planck",
    "fee_planck",
    "creator_amount_planck",
    "status",
    "batch_id",
)
CSV_FLUSH_BYTES = 64 * 1024
# A spreadsheet runs a cell that starts like a formula; free text is defused with a quote.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _text_cell(value: str | None) -> str:
    text = value or ""
    return "'" + text if text.startswith(FORMULA_START) else text


def _csv_row(row: asyncpg.Record) -> list[str]:
    return [
        str(row["id"]),
        rfc3339_or_none(row["created_at"]) or "",
        row["payment_type"],
        str(row["stream_id"] or ""),
        _text_cell(row["stream_title"]),
        str(row["video_id"] or ""),
        row["viewer_account"],
        planck(row["amount"]),
        planck(row["fee"]),
        planck(row["creator_amount"]),
        row["status"],
        row["batch_id"] or "",
    ]


async def stream_payments(
    request: web.Request, creator_id: uuid.UUID, since: datetime | None
) -> web.StreamResponse:
    """Every viewing and tip payment to the creator since `since` (all when None), as CSV."""
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": 'attachment; filename="payments.csv"',
            "Cache-Control": "no-store",
        }
    )
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    async with (
        request.app[PG].acquire() as conn,
        conn.transaction(isolation="repeatable_read", readonly=True),
    ):
        await response.prepare(request)
        async for row in dashboard_db.payments_export(conn, creator_id, since):
            writer.writerow(_csv_row(row))
            if buffer.tell() >= CSV_FLUSH_BYTES:
                await response.write(buffer.getvalue().encode())
                buffer.seek(0)
                buffer.truncate()
    await response.write(buffer.getvalue().encode())
    await response.write_eof()
    return response
