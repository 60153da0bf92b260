-- Base schema: the 18 tables of seed document 002 (vilokanam data model), its indexes, views and
-- triggers. Deliberate changes from the seed, applied throughout:
--   * ids default to gen_random_uuid() (built into PostgreSQL >= 13), so inserts need no client ids;
--   * every timestamp is TIMESTAMPTZ (the seed used TIMESTAMP, which loses the zone);
--   * money is NUMERIC(39,0) in planck (the chain's smallest unit; u128 fits in 39 digits) instead
--     of DECIMAL(15,8) tokens, so no amount is ever rounded;
--   * every status column has a CHECK constraint listing its states;
--   * counters are NOT NULL with CHECK (>= 0) so a bad update fails instead of drifting.

-- users -------------------------------------------------------------------------------------
CREATE TABLE users (
    id                UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    -- SS58 address in the platform chain's format (display form).
    account_id        VARCHAR(64) NOT NULL UNIQUE,
    -- Change: accounts are the same account when their 32-byte public keys are equal, whatever
    -- SS58 prefix the address was written with; lookups go through this column.
    public_key        BYTEA NOT NULL UNIQUE CHECK (octet_length(public_key) = 32),
    username          VARCHAR(50) UNIQUE,
    email             VARCHAR(255) UNIQUE,
    profile_image_url TEXT,
    bio               TEXT,
    is_creator        BOOLEAN NOT NULL DEFAULT FALSE,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at        TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- categories --------------------------------------------------------------------------------
CREATE TABLE categories (
    id          UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    name        VARCHAR(100) NOT NULL UNIQUE,
    description TEXT,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- videos ------------------------------------------------------------------------------------
CREATE TABLE videos (
    id                UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    creator_id        UUID NOT NULL REFERENCES users(id),
    title             VARCHAR(255) NOT NULL,
    description       TEXT,
    thumbnail_url     TEXT,
    status            VARCHAR(50) NOT NULL DEFAULT 'uploading'
                      CHECK (status IN ('uploading', 'processing', 'ready', 'failed', 'archived')),
    duration          INTEGER CHECK (duration >= 0),          -- seconds
    width             INTEGER CHECK (width > 0),              -- pixels
    height            INTEGER CHECK (height > 0),
    file_size         BIGINT CHECK (file_size >= 0),          -- bytes
    view_count        INTEGER NOT NULL DEFAULT 0 CHECK (view_count >= 0),
    like_count        INTEGER NOT NULL DEFAULT 0 CHECK (like_count >= 0),
    comment_count     INTEGER NOT NULL DEFAULT 0 CHECK (comment_count >= 0),
    ipfs_hash         VARCHAR(255),
    storage_url       TEXT,
    processing_job_id VARCHAR(255),
    published_at      TIMESTAMPTZ,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at        TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE video_versions (
    id          UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    video_id    UUID NOT NULL REFERENCES videos(id) ON DELETE CASCADE,
    resolution  VARCHAR(20) NOT NULL,                         -- '240p' … '1080p', '4k'
    bitrate     INTEGER CHECK (bitrate > 0),                  -- kbps
    file_size   BIGINT CHECK (file_size >= 0),
    storage_url TEXT NOT NULL,
    ipfs_hash   VARCHAR(255),
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX idx_video_versions_video_id ON video_versions (video_id);

CREATE TABLE video_metadata (
    video_id     UUID PRIMARY KEY REFERENCES videos(id) ON DELETE CASCADE,
    format       VARCHAR(50),
    codec        VARCHAR(50),
    audio_codec  VARCHAR(50),
    frame_rate   DECIMAL(5, 2),
    aspect_ratio VARCHAR(20),
    tags         TEXT[],
    extra_data   JSONB
);

CREATE TABLE video_categories (
    video_id    UUID NOT NULL REFERENCES videos(id) ON DELETE CASCADE,
    category_id UUID NOT NULL REFERENCES categories(id) ON DELETE CASCADE,
    PRIMARY KEY (video_id, category_id)
);

-- live streaming ----------------------------------------------------------------------------
CREATE TABLE streams (
    id               UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    creator_id       UUID NOT NULL REFERENCES users(id),
    title            VARCHAR(255) NOT NULL,
    description      TEXT,
    thumbnail_url    TEXT,
    category_id      UUID REFERENCES categories(id),
    status           VARCHAR(50) NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'live', 'ended', 'archived')),
    -- Change: the seed kept the plain stream key; we keep only its SHA-256 (hex). The key is
    -- shown to the creator once and can be rotated.
    stream_key_hash  CHAR(64) UNIQUE,
    -- Change: what a viewer pays per second watched, in planck (the creator sets it).
    price_per_second NUMERIC(39, 0) NOT NULL DEFAULT 0 CHECK (price_per_second >= 0),
    viewer_count     INTEGER NOT NULL DEFAULT 0 CHECK (viewer_count >= 0),
    total_ticks      BIGINT NOT NULL DEFAULT 0 CHECK (total_ticks >= 0),   -- seconds watched
    start_time       TIMESTAMPTZ,
    end_time         TIMESTAMPTZ,
    recording_url    TEXT,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE stream_viewers (
    id             UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    stream_id      UUID NOT NULL REFERENCES streams(id) ON DELETE CASCADE,
    viewer_id      UUID NOT NULL REFERENCES users(id),
    join_time      TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_tick_time TIMESTAMPTZ,
    total_ticks    BIGINT NOT NULL DEFAULT 0 CHECK (total_ticks >= 0),
    paid_amount    NUMERIC(39, 0) NOT NULL DEFAULT 0 CHECK (paid_amount >= 0),
    is_active      BOOLEAN NOT NULL DEFAULT TRUE,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX idx_stream_viewers_stream_id ON stream_viewers (stream_id);
CREATE INDEX idx_stream_viewers_viewer_id ON stream_viewers (viewer_id);
CREATE INDEX idx_stream_viewers_active ON stream_viewers (is_active);

CREATE TABLE stream_sessions (
    id                   UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    stream_id            UUID NOT NULL REFERENCES streams(id) ON DELETE CASCADE,
    sfu_server_url       VARCHAR(255),
    signaling_server_url VARCHAR(255),
    start_time           TIMESTAMPTZ NOT NULL DEFAULT now(),
    end_time             TIMESTAMPTZ,
    viewer_peak          INTEGER NOT NULL DEFAULT 0 CHECK (viewer_peak >= 0),
    total_ticks          BIGINT NOT NULL DEFAULT 0 CHECK (total_ticks >= 0),
    recording_id         UUID REFERENCES videos(id) ON DELETE SET NULL,
    created_at           TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX idx_stream_sessions_stream ON stream_sessions (stream_id);

-- payments and earnings ---------------------------------------------------------------------
CREATE TABLE payments (
    id               UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    from_user_id     UUID NOT NULL REFERENCES users(id),
    to_user_id       UUID NOT NULL REFERENCES users(id),
    amount           NUMERIC(39, 0) NOT NULL CHECK (amount >= 0),
    payment_type     VARCHAR(50) NOT NULL
                     CHECK (payment_type IN ('stream_view', 'tip', 'subscription')),
    reference_id     UUID,
    transaction_hash VARCHAR(255),
    status           VARCHAR(50) NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'completed', 'failed')),
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    completed_at     TIMESTAMPTZ
);
CREATE INDEX idx_payments_from_user ON payments (from_user_id);
CREATE INDEX idx_payments_to_user ON payments (to_user_id);
CREATE INDEX idx_payments_status ON payments (status);

CREATE TABLE creator_earnings (
    id             UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    creator_id     UUID NOT NULL REFERENCES users(id),
    total_earnings NUMERIC(39, 0) NOT NULL DEFAULT 0 CHECK (total_earnings >= 0),
    pending_payout NUMERIC(39, 0) NOT NULL DEFAULT 0 CHECK (pending_payout >= 0),
    last_payout_at TIMESTAMPTZ,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX idx_creator_earnings_creator_id ON creator_earnings (creator_id);

-- social ------------------------------------------------------------------------------------
CREATE TABLE follows (
    id           UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    follower_id  UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    following_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (follower_id, following_id),
    -- Change: nobody follows themselves.
    CONSTRAINT follows_not_self CHECK (follower_id <> following_id)
);
CREATE INDEX idx_follows_follower ON follows (follower_id);
CREATE INDEX idx_follows_following ON follows (following_id);

CREATE TABLE comments (
    id         UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    video_id   UUID REFERENCES videos(id) ON DELETE CASCADE,
    stream_id  UUID REFERENCES streams(id) ON DELETE CASCADE,
    author_id  UUID NOT NULL REFERENCES users(id),
    parent_id  UUID REFERENCES comments(id) ON DELETE CASCADE,
    content    TEXT NOT NULL,
    like_count INTEGER NOT NULL DEFAULT 0 CHECK (like_count >= 0),
    is_deleted BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- A comment belongs to exactly one of a video or a stream.
    CONSTRAINT comments_one_target CHECK ((video_id IS NULL) <> (stream_id IS NULL))
);
CREATE INDEX idx_comments_video ON comments (video_id) WHERE video_id IS NOT NULL;
CREATE INDEX idx_comments_stream ON comments (stream_id) WHERE stream_id IS NOT NULL;
CREATE INDEX idx_comments_author ON comments (author_id);
CREATE INDEX idx_comments_parent ON comments (parent_id) WHERE parent_id IS NOT NULL;

CREATE TABLE comment_likes (
    id         UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    comment_id UUID NOT NULL REFERENCES comments(id) ON DELETE CASCADE,
    user_id    UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (comment_id, user_id)
);
CREATE INDEX idx_comment_likes_comment ON comment_likes (comment_id);
CREATE INDEX idx_comment_likes_user ON comment_likes (user_id);

CREATE TABLE video_likes (
    id         UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    video_id   UUID NOT NULL REFERENCES videos(id) ON DELETE CASCADE,
    user_id    UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (video_id, user_id)
);
CREATE INDEX idx_video_likes_video ON video_likes (video_id);
CREATE INDEX idx_video_likes_user ON video_likes (user_id);

-- analytics ---------------------------------------------------------------------------------
CREATE TABLE video_views (
    id               UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    video_id         UUID NOT NULL REFERENCES videos(id) ON DELETE CASCADE,
    viewer_id        UUID REFERENCES users(id),                -- NULL: anonymous view
    view_duration    INTEGER CHECK (view_duration >= 0),        -- seconds
    watch_completion DECIMAL(5, 2) CHECK (watch_completion BETWEEN 0 AND 100),
    ip_address       INET,
    user_agent       TEXT,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX idx_video_views_video ON video_views (video_id);
CREATE INDEX idx_video_views_viewer ON video_views (viewer_id);

CREATE TABLE stream_analytics (
    id           UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    stream_id    UUID NOT NULL REFERENCES streams(id) ON DELETE CASCADE,
    "timestamp"  TIMESTAMPTZ NOT NULL,
    viewer_count INTEGER NOT NULL CHECK (viewer_count >= 0),
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX idx_stream_analytics_stream ON stream_analytics (stream_id);
CREATE INDEX idx_stream_analytics_timestamp ON stream_analytics ("timestamp");

-- moderation --------------------------------------------------------------------------------
CREATE TABLE reports (
    id          UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    reporter_id UUID NOT NULL REFERENCES users(id),
    -- Change: streams can be reported too.
    target_type VARCHAR(50) NOT NULL CHECK (target_type IN ('video', 'comment', 'user', 'stream')),
    target_id   UUID NOT NULL,
    reason      VARCHAR(100) NOT NULL,
    description TEXT,
    status      VARCHAR(50) NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'reviewed', 'action_taken', 'dismissed')),
    reviewed_by UUID REFERENCES users(id),
    reviewed_at TIMESTAMPTZ,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX idx_reports_target ON reports (target_type, target_id);
CREATE INDEX idx_reports_status ON reports (status);

-- query indexes from the seed's summary ---------------------------------------------------------
CREATE INDEX idx_videos_creator_status ON videos (creator_id, status);
CREATE INDEX idx_videos_status ON videos (status);
CREATE INDEX idx_videos_published ON videos (published_at) WHERE status = 'ready';
CREATE INDEX idx_videos_views ON videos (view_count DESC);
CREATE INDEX idx_streams_creator_status ON streams (creator_id, status);
CREATE INDEX idx_streams_status ON streams (status);
CREATE INDEX idx_streams_active ON streams (start_time, end_time) WHERE status = 'live';
CREATE INDEX idx_users_account ON users (account_id);
CREATE INDEX idx_users_username ON users (username);
