-- Resumable chunked uploads, soft-deleted videos, one video_views row per playback.

-- A deleted video is hidden from lists, 404 for everyone and its files are no longer served;
-- the row stays (views and earnings refer to it).
ALTER TABLE videos ADD COLUMN deleted_at TIMESTAMPTZ;
CREATE INDEX idx_videos_public_newest ON videos (created_at DESC, id DESC)
    WHERE status = 'ready' AND deleted_at IS NULL;
CREATE INDEX idx_videos_public_views ON videos (view_count DESC, id DESC)
    WHERE status = 'ready' AND deleted_at IS NULL;
CREATE INDEX idx_videos_creator ON videos (creator_id);

-- One upload: the declared file (size, whole-file SHA-256) cut into chunk_count chunks of
-- chunk_size bytes (the last may be shorter). Chunks arrive in any order, each checked against
-- its own SHA-256; `complete` assembles them, checks the whole file and creates the video.
CREATE TABLE uploads (
    id            UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    creator_id    UUID NOT NULL REFERENCES users(id),
    filename      VARCHAR(255) NOT NULL,
    content_type  VARCHAR(100) NOT NULL,
    size          BIGINT NOT NULL CHECK (size > 0),
    sha256        CHAR(64) NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    chunk_size    INTEGER NOT NULL CHECK (chunk_size > 0),
    chunk_count   INTEGER NOT NULL CHECK (chunk_count > 0),
    title         VARCHAR(255) NOT NULL,
    description   TEXT,
    -- receiving → assembling → complete; a whole-file checksum mismatch ends it as failed.
    status        VARCHAR(20) NOT NULL DEFAULT 'receiving'
                  CHECK (status IN ('receiving', 'assembling', 'complete', 'failed')),
    failure       TEXT,
    video_id      UUID REFERENCES videos(id) ON DELETE SET NULL,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    completed_at  TIMESTAMPTZ,
    CHECK (chunk_count = (size + chunk_size - 1) / chunk_size),
    CHECK ((status = 'complete') = (completed_at IS NOT NULL))
);
CREATE INDEX idx_uploads_creator ON uploads (creator_id, created_at DESC);

CREATE TRIGGER update_uploads_updated_at BEFORE UPDATE ON uploads
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();

-- A chunk is recorded only once its bytes are on disk and matched their SHA-256.
CREATE TABLE upload_chunks (
    upload_id   UUID NOT NULL REFERENCES uploads(id) ON DELETE CASCADE,
    chunk_index INTEGER NOT NULL CHECK (chunk_index >= 0),
    size        INTEGER NOT NULL CHECK (size > 0),
    sha256      CHAR(64) NOT NULL,
    received_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (upload_id, chunk_index)
);

-- The player reports a playback several times (pause, ended, leaving the page) under one
-- random playback id: the first report inserts the row (and counts the view through the
-- view-count trigger), later ones only raise its duration and completion.
ALTER TABLE video_views ADD COLUMN playback_id UUID UNIQUE;
