"""The operations that show or move money: billing, the creator dashboard, tips
(see operations.py)."""

from __future__ import annotations

from signaling.api.comments.models import CommentText
from signaling.api.me.models import WithdrawRequest
from signaling.api.moderation.models import ReportCreate, ReportReview
from signaling.api.ops.op import NO_BODY, Op, paged
from signaling.api.ops.schemas import OBJECT, ref
from signaling.api.tips.models import TipRequest
from signaling.http.idempotency import HEADER as IDEMPOTENCY_KEY

MONEY_OPERATIONS: dict[tuple[str, str], Op] = {
    # billing
    ("GET", "/api/billing/info"): Op(
        "What a wallet needs to top up", "billing", schema=ref("BillingInfo"), unavailable=True
    ),
    ("GET", "/api/me/balance"): Op("My balance", "billing", schema=ref("Balance"), auth="session"),
    ("GET", "/api/me/withdraw/quote"): Op(
        "The fee of a withdrawal, paid from my balance",
        "billing",
        schema=ref("WithdrawalQuote"),
        query=("amount", "to"),
        auth="session",
        unavailable=True,
    ),
    ("POST", "/api/me/withdraw"): Op(
        "Withdraw unused balance to an account",
        "billing",
        ok=(202,),
        body=WithdrawRequest,
        auth="session",
        headers=(IDEMPOTENCY_KEY,),
        unavailable=True,
    ),
    ("GET", "/api/me/deposits"): paged("My deposits", "billing", auth="session"),
    ("GET", "/api/me/spending"): paged("My spending per stream", "billing", auth="session"),
    ("GET", "/api/me/withdrawals"): paged("My withdrawals", "billing", auth="session"),
    ("GET", "/api/me/tips"): paged("The tips I sent", "billing", auth="session"),
    # creator dashboard
    ("GET", "/api/creator/summary"): Op("Totals and the earnings split", "creator", auth="session"),
    ("GET", "/api/creator/live"): Op("Earnings and viewers right now", "creator", auth="session"),
    ("GET", "/api/creator/streams"): paged("My streams with earnings", "creator", auth="session"),
    ("GET", "/api/creator/payouts"): paged("My payouts", "creator", auth="session"),
    ("GET", "/api/creator/videos"): paged(
        "My videos, any status, failed ones with the reason", "creator", auth="session"
    ),
    ("GET", "/api/creator/earnings"): Op(
        "Earnings over time", "creator", query=("range",), auth="session"
    ),
    ("GET", "/api/creator/viewers"): Op(
        "Viewers over time", "creator", query=("range", "stream_id"), auth="session"
    ),
    ("GET", "/api/creator/payments.csv"): Op(
        "My payments as CSV",
        "creator",
        schema=NO_BODY,
        produces="text/csv",
        query=("range",),
        auth="session",
    ),
    # tips (once per Idempotency-Key: a retry answers the first result, 422 for another body)
    ("POST", "/api/streams/{stream_id}/tips"): Op(
        "Tip a stream's creator from my balance (shown in its live chat)",
        "billing",
        ok=(201,),
        body=TipRequest,
        auth="session",
        headers=(IDEMPOTENCY_KEY,),
    ),
    ("POST", "/api/videos/{video_id}/tips"): Op(
        "Tip a video's creator from my balance",
        "billing",
        ok=(201,),
        body=TipRequest,
        auth="session",
        headers=(IDEMPOTENCY_KEY,),
    ),
    ("GET", "/api/comments/{comment_id}"): Op("A comment", "comments"),
    ("PATCH", "/api/comments/{comment_id}"): Op(
        "Edit my comment", "comments", body=CommentText, auth="session"
    ),
    ("DELETE", "/api/comments/{comment_id}"): Op(
        "Delete a comment (author or moderator)",
        "comments",
        ok=(204,),
        schema=NO_BODY,
        auth="session",
    ),
    ("POST", "/api/reports"): Op(
        "Report a video, comment, user or stream",
        "moderation",
        ok=(201,),
        body=ReportCreate,
        auth="session",
    ),
    ("GET", "/api/moderation/reports"): paged(
        "Reports to review (moderators)",
        "moderation",
        OBJECT,
        "status",
        "target_type",
        auth="session",
    ),
    ("PATCH", "/api/moderation/reports/{report_id}"): Op(
        "Review a report (moderators)", "moderation", body=ReportReview, auth="session"
    ),
}
