"""The operations of what people publish and do with it: catalog, social, comments,
moderation, videos and uploads (see operations.py)."""

from __future__ import annotations

from signaling.api.catalog.models import CategoryCreate, CategoryUpdate
from signaling.api.comments.models import CommentCreate
from signaling.api.ops.op import NO_BODY, Op, paged
from signaling.api.ops.schemas import OBJECT, ref
from signaling.api.uploads.models import UploadCreate
from signaling.api.videos.models import VideoUpdate, ViewReport

CONTENT_OPERATIONS: dict[tuple[str, str], Op] = {
    # catalog and social
    ("GET", "/api/categories"): paged("Categories", "catalog"),
    ("POST", "/api/categories"): Op(
        "Create a category (admins)", "catalog", ok=(201,), body=CategoryCreate, auth="session"
    ),
    ("GET", "/api/categories/{category_id}"): Op("A category", "catalog"),
    ("PATCH", "/api/categories/{category_id}"): Op(
        "Edit a category (admins)", "catalog", body=CategoryUpdate, auth="session"
    ),
    ("DELETE", "/api/categories/{category_id}"): Op(
        "Delete a category (admins)", "catalog", ok=(204,), schema=NO_BODY, auth="session"
    ),
    ("GET", "/api/videos/{video_id}/categories"): paged(
        "A video's categories", "catalog", auth="optional"
    ),
    ("PUT", "/api/videos/{video_id}/categories/{category_id}"): Op(
        "Put my video in a category", "catalog", ok=(204,), schema=NO_BODY, auth="session"
    ),
    ("DELETE", "/api/videos/{video_id}/categories/{category_id}"): Op(
        "Take my video out of a category", "catalog", ok=(204,), schema=NO_BODY, auth="session"
    ),
    ("GET", "/api/videos/{video_id}/analytics"): Op(
        "My video's analytics", "catalog", auth="session"
    ),
    ("POST", "/api/users/{user_id}/follow"): Op(
        "Follow a user", "social", ok=(201, 204), auth="session"
    ),
    ("DELETE", "/api/users/{user_id}/follow"): Op(
        "Unfollow a user", "social", ok=(204,), schema=NO_BODY, auth="session"
    ),
    ("GET", "/api/users/{ref}"): Op(
        "A profile by user id, username or SS58 address, with follow counts",
        "users",
        auth="optional",
    ),
    ("PUT", "/api/me/avatar"): Op(
        "Set my profile picture (the image itself; stored as a 256 px square JPEG)",
        "users",
        schema=ref("Me"),
        content="image/*",
        auth="session",
    ),
    ("DELETE", "/api/me/avatar"): Op(
        "Remove my profile picture", "users", ok=(204,), schema=NO_BODY, auth="session"
    ),
    ("GET", "/media/avatars/{user_id}/avatar.jpg"): Op(
        "A user's profile picture", "users", schema=NO_BODY, produces="image/jpeg"
    ),
    ("GET", "/api/users/{user_id}/followers"): paged("A user's followers", "social"),
    ("GET", "/api/users/{user_id}/following"): paged("Whom a user follows", "social"),
    ("GET", "/api/me/following/live"): paged(
        "Live now from people I follow", "social", ref("Stream"), auth="session"
    ),
    ("PUT", "/api/videos/{video_id}/like"): Op("Like a video", "social", auth="session"),
    ("DELETE", "/api/videos/{video_id}/like"): Op("Unlike a video", "social", auth="session"),
    ("PUT", "/api/comments/{comment_id}/like"): Op("Like a comment", "social", auth="session"),
    ("DELETE", "/api/comments/{comment_id}/like"): Op("Unlike a comment", "social", auth="session"),
    ("GET", "/api/videos/{video_id}/comments"): paged(
        "A video's comments", "comments", OBJECT, "parent_id", auth="optional"
    ),
    ("POST", "/api/videos/{video_id}/comments"): Op(
        "Comment on a video", "comments", ok=(201,), body=CommentCreate, auth="session"
    ),
    ("GET", "/api/streams/{stream_id}/comments"): paged(
        "A stream's comments", "comments", OBJECT, "parent_id"
    ),
    ("POST", "/api/streams/{stream_id}/comments"): Op(
        "Comment on a stream", "comments", ok=(201,), body=CommentCreate, auth="session"
    ),
    # videos and uploads
    ("GET", "/api/videos"): paged("Ready videos", "videos", OBJECT, "creator", "category", "sort"),
    ("GET", "/api/videos/{video_id}"): Op(
        "A video with renditions and progress", "videos", auth="optional"
    ),
    ("PATCH", "/api/videos/{video_id}"): Op(
        "Edit my video", "videos", body=VideoUpdate, auth="session"
    ),
    ("DELETE", "/api/videos/{video_id}"): Op(
        "Delete my video (hidden with its files)",
        "videos",
        ok=(204,),
        schema=NO_BODY,
        auth="session",
    ),
    ("POST", "/api/videos/{video_id}/publish"): Op(
        "Publish my private video (a paid stream's recording)", "videos", auth="session"
    ),
    ("POST", "/api/videos/{video_id}/retry"): Op(
        "Process my failed video again (queued; 409 unless its processing failed)",
        "videos",
        ok=(202,),
        auth="session",
    ),
    ("POST", "/api/videos/{video_id}/views"): Op(
        "Record a playback", "videos", ok=(200, 201), body=ViewReport, auth="optional"
    ),
    ("GET", "/media/live/{stream_id}/thumbnail.jpg"): Op(
        "A live stream's latest thumbnail (refreshed about every 30 s)",
        "streams",
        schema=NO_BODY,
        produces="image/jpeg",
    ),
    ("GET", "/api/search"): Op(
        "Streams (live first) and public videos with every word of q in title or description",
        "catalog",
        query=("q", "limit"),
    ),
    ("GET", "/media/videos/{video_id}/{path}"): Op(
        "A ready video's file: MP4 rendition, HLS playlist or segment, thumbnail (Range)",
        "videos",
        ok=(200, 206),
        schema=NO_BODY,
        produces="application/octet-stream",
    ),
    ("POST", "/api/uploads"): Op(
        "Start a resumable upload (creators)",
        "uploads",
        ok=(201,),
        body=UploadCreate,
        auth="session",
    ),
    ("GET", "/api/uploads/{upload_id}"): Op(
        "An upload's received chunks", "uploads", auth="session"
    ),
    ("PUT", "/api/uploads/{upload_id}/chunks/{index}"): Op(
        "Store one chunk (X-Chunk-SHA256)",
        "uploads",
        ok=(200, 201),
        content="application/octet-stream",
        headers=("X-Chunk-SHA256",),
        auth="session",
    ),
    ("POST", "/api/uploads/{upload_id}/complete"): Op(
        "Verify and queue for processing", "uploads", ok=(202,), auth="session"
    ),
}
