-- VOD job queue: one row per processing job (a live recording's parts, or an upload).
-- Workers lease a job with FOR UPDATE SKIP LOCKED and renew the lease while they work; a worker
-- that dies loses only its lease: once lease_expires_at passes, another worker takes the job
-- (attempts counts leases). Results are written in the same transaction that marks the job
-- done, and only by the lease owner, so a job completes exactly once.
CREATE TABLE vod_jobs (
    id                 UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    video_id           UUID NOT NULL REFERENCES videos(id) ON DELETE CASCADE,
    kind               VARCHAR(20) NOT NULL CHECK (kind IN ('live_recording', 'upload')),
    -- The stream a live recording belongs to (gets recording_url and status 'archived').
    stream_id          UUID REFERENCES streams(id) ON DELETE SET NULL,
    -- Source files in play order (the parts of a recording, or one upload).
    source_paths       TEXT[] NOT NULL CHECK (cardinality(source_paths) > 0),
    status             VARCHAR(20) NOT NULL DEFAULT 'queued'
                       CHECK (status IN ('queued', 'running', 'done', 'failed')),
    attempts           INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    max_attempts       INTEGER NOT NULL DEFAULT 3 CHECK (max_attempts > 0),
    -- A retried job waits until then (back-off after a failed attempt).
    available_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    lease_owner        TEXT,
    lease_expires_at   TIMESTAMPTZ,
    last_error         TEXT,
    progress           NUMERIC(5, 2) NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
    current_step       VARCHAR(50),
    rendition_progress JSONB NOT NULL DEFAULT '{}'::jsonb,
    created_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    finished_at        TIMESTAMPTZ,
    CHECK (status <> 'running' OR (lease_owner IS NOT NULL AND lease_expires_at IS NOT NULL)),
    CHECK ((status IN ('done', 'failed')) = (finished_at IS NOT NULL))
);

-- What a worker scans: queued jobs by age, and running jobs whose lease may have expired.
CREATE INDEX idx_vod_jobs_queued ON vod_jobs (available_at) WHERE status = 'queued';
CREATE INDEX idx_vod_jobs_leases ON vod_jobs (lease_expires_at) WHERE status = 'running';
-- A video is processed by at most one live job at a time.
CREATE UNIQUE INDEX uniq_vod_jobs_active_video ON vod_jobs (video_id)
    WHERE status IN ('queued', 'running');
CREATE INDEX idx_vod_jobs_video_id ON vod_jobs (video_id);

CREATE TRIGGER update_vod_jobs_updated_at BEFORE UPDATE ON vod_jobs
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();
