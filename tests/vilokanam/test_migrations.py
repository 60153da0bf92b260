"""The schema of seed document 002 after `vilokanam migrate`, and the migrate command itself."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from collections.abc import Iterator

import asyncpg
import pytest

from tests.support.services import fresh_database
from vilokanam.migrate import MigrationError, discover, migrate

SEED_TABLES = {
    "users",
    "videos",
    "video_versions",
    "video_metadata",
    "categories",
    "video_categories",
    "streams",
    "stream_viewers",
    "stream_sessions",
    "payments",
    "creator_earnings",
    "follows",
    "comments",
    "comment_likes",
    "video_likes",
    "video_views",
    "stream_analytics",
    "reports",
}
SEED_INDEXES = {
    "idx_video_versions_video_id",
    "idx_stream_viewers_stream_id",
    "idx_stream_viewers_viewer_id",
    "idx_stream_viewers_active",
    "idx_payments_from_user",
    "idx_payments_to_user",
    "idx_payments_status",
    "idx_creator_earnings_creator_id",
    "idx_follows_follower",
    "idx_follows_following",
    "idx_comments_video",
    "idx_comments_stream",
    "idx_comments_author",
    "idx_comments_parent",
    "idx_comment_likes_comment",
    "idx_comment_likes_user",
    "idx_video_likes_video",
    "idx_video_likes_user",
    "idx_video_views_video",
    "idx_video_views_viewer",
    "idx_stream_analytics_stream",
    "idx_stream_analytics_timestamp",
    "idx_reports_target",
    "idx_reports_status",
    "idx_videos_creator_status",
    "idx_videos_status",
    "idx_videos_published",
    "idx_videos_views",
    "idx_streams_creator_status",
    "idx_streams_status",
    "idx_streams_active",
    "idx_users_account",
    "idx_users_username",
}


@pytest.fixture
def empty_db(pg_admin_url: str) -> Iterator[str]:
    with fresh_database(pg_admin_url, migrated=False) as url:
        yield url


async def _names(conn: asyncpg.Connection, sql: str) -> set[str]:
    return {row[0] for row in await conn.fetch(sql)}


async def test_seed_tables_views_indexes_and_triggers_exist(empty_db: str) -> None:
    await migrate(empty_db)
    conn = await asyncpg.connect(empty_db)
    try:
        tables = await _names(conn, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        views = await _names(conn, "SELECT viewname FROM pg_views WHERE schemaname = 'public'")
        indexes = await _names(conn, "SELECT indexname FROM pg_indexes WHERE schemaname = 'public'")
        triggers = await _names(conn, "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")
    finally:
        await conn.close()
    assert SEED_TABLES <= tables
    assert {"creator_dashboard", "video_analytics"} <= views
    assert SEED_INDEXES <= indexes
    assert {
        "update_videos_updated_at",
        "update_streams_updated_at",
        "update_users_updated_at",
        "update_video_view_count_trigger",
    } <= triggers


async def test_migrate_twice_is_a_noop(empty_db: str) -> None:
    first = await migrate(empty_db)
    second = await migrate(empty_db)
    assert first == [m.version for m in discover()]
    assert second == []


async def test_concurrent_migrates_both_succeed(empty_db: str) -> None:
    results = await asyncio.gather(*(migrate(empty_db) for _ in range(3)))
    applied = sorted(v for result in results for v in result)
    assert applied == [m.version for m in discover()]  # each version applied exactly once


def test_cli_migrate_runs_in_two_processes_at_once(empty_db: str) -> None:
    command = [sys.executable, "-m", "vilokanam", "migrate"]
    env = {"DATABASE_URL": empty_db, "PATH": "/usr/bin:/bin"}
    procs = [subprocess.Popen(command, env=env, stderr=subprocess.PIPE) for _ in range(2)]
    for proc in procs:
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err.decode()


async def test_edited_migration_is_refused(empty_db: str, tmp_path) -> None:
    (tmp_path / "0001_one.sql").write_text("CREATE TABLE one (id int);")
    await migrate(empty_db, tmp_path)
    (tmp_path / "0001_one.sql").write_text("CREATE TABLE one (id bigint);")
    with pytest.raises(MigrationError, match="changed after it was applied"):
        await migrate(empty_db, tmp_path)


async def test_failed_migration_leaves_nothing_behind(empty_db: str, tmp_path) -> None:
    (tmp_path / "0001_good.sql").write_text("CREATE TABLE good (id int);")
    (tmp_path / "0002_bad.sql").write_text("CREATE TABLE half (id int); SELECT nonsense();")
    with pytest.raises(asyncpg.PostgresError):
        await migrate(empty_db, tmp_path)
    conn = await asyncpg.connect(empty_db)
    try:
        tables = await _names(conn, "SELECT tablename FROM pg_tables WHERE schemaname='public'")
        versions = await _names(conn, "SELECT version FROM schema_migrations")
    finally:
        await conn.close()
    assert "good" in tables and "half" not in tables
    assert versions == {"0001"}


# --- behaviour of the schema -----------------------------------------------------------------


async def _user(conn: asyncpg.Connection, creator: bool = True) -> uuid.UUID:
    key = uuid.uuid4().bytes * 2
    return await conn.fetchval(
        "INSERT INTO users (account_id, public_key, is_creator) VALUES ($1, $2, $3) RETURNING id",
        f"acct-{key.hex()[:16]}",
        key,
        creator,
    )


async def _video(conn: asyncpg.Connection, creator: uuid.UUID) -> uuid.UUID:
    return await conn.fetchval(
        "INSERT INTO videos (creator_id, title, status) VALUES ($1, 'v', 'ready') RETURNING id",
        creator,
    )


async def test_updated_at_trigger_moves_forward(db: asyncpg.Pool) -> None:
    async with db.acquire() as conn:
        user = await _user(conn)
        before = await conn.fetchval("SELECT updated_at FROM users WHERE id = $1", user)
        # now() is the transaction start, so a later transaction must see a later time.
        await conn.execute("UPDATE users SET bio = 'hello' WHERE id = $1", user)
        after = await conn.fetchval("SELECT updated_at FROM users WHERE id = $1", user)
    assert after > before


async def test_view_count_trigger_counts_each_view(db: asyncpg.Pool) -> None:
    async with db.acquire() as conn:
        video = await _video(conn, await _user(conn))
        for _ in range(3):
            await conn.execute("INSERT INTO video_views (video_id) VALUES ($1)", video)
        assert await conn.fetchval("SELECT view_count FROM videos WHERE id = $1", video) == 3
        analytics = await conn.fetchrow(
            "SELECT unique_viewers FROM video_analytics WHERE video_id = $1", video
        )
    assert analytics["unique_viewers"] == 3  # three anonymous views


@pytest.mark.parametrize(
    "sql",
    [
        "INSERT INTO videos (creator_id, title, status) VALUES ($1, 't', 'bogus')",
        "INSERT INTO streams (creator_id, title, status) VALUES ($1, 't', 'paused')",
        "INSERT INTO streams (creator_id, title, price_per_second) VALUES ($1, 't', -1)",
        "INSERT INTO follows (follower_id, following_id) VALUES ($1, $1)",
        "INSERT INTO payments (from_user_id, to_user_id, amount, payment_type, status)"
        " VALUES ($1, $1, 1, 'stream_view', 'lost')",
        "INSERT INTO reports (reporter_id, target_type, target_id, reason, status)"
        " VALUES ($1, 'video', $1, 'spam', 'closed')",
    ],
)
async def test_constraints_reject_bad_rows(db: asyncpg.Pool, sql: str) -> None:
    async with db.acquire() as conn:
        user = await _user(conn)
        with pytest.raises(asyncpg.CheckViolationError):
            await conn.execute(sql, user)


async def test_comment_must_target_exactly_one_of_video_or_stream(db: asyncpg.Pool) -> None:
    async with db.acquire() as conn:
        user = await _user(conn)
        video = await _video(conn, user)
        stream = await conn.fetchval(
            "INSERT INTO streams (creator_id, title) VALUES ($1, 's') RETURNING id", user
        )
        insert = (
            "INSERT INTO comments (video_id, stream_id, author_id, content) VALUES ($1,$2,$3,'x')"
        )
        with pytest.raises(asyncpg.CheckViolationError):
            await conn.execute(insert, video, stream, user)
        with pytest.raises(asyncpg.CheckViolationError):
            await conn.execute(insert, None, None, user)
        await conn.execute(insert, video, None, user)  # exactly one target is fine


async def test_money_columns_keep_every_planck(db: asyncpg.Pool) -> None:
    huge = 2**128 - 1  # u128 max, the chain's balance type
    async with db.acquire() as conn:
        user = await _user(conn)
        await conn.execute(
            "INSERT INTO creator_earnings (creator_id, total_earnings) VALUES ($1, $2)", user, huge
        )
        stored = await conn.fetchval(
            "SELECT total_earnings FROM creator_earnings WHERE creator_id = $1", user
        )
    assert int(stored) == huge
