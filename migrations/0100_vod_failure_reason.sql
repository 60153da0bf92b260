-- What a creator is told when processing their video fails: plain words, no internals.
-- last_error keeps the operator's detail (exception text, file names); failure_reason is what
-- the API and pages show. Jobs that failed before this column existed get a generic reason.
ALTER TABLE vod_jobs ADD COLUMN failure_reason TEXT
    CHECK (char_length(failure_reason) <= 500);
UPDATE vod_jobs SET failure_reason = 'processing failed' WHERE status = 'failed';

-- Recordings of Chromium broadcasts failed to publish (a probed frame rate of 1000 overflowed
-- video_metadata.frame_rate): the fixed worker can process them, so they are queued again.
-- A job whose sources are gone fails once more, now with its reason.
WITH retry AS (
    UPDATE vod_jobs j
       SET status = 'queued', attempts = 0, available_at = now(), finished_at = NULL,
           failure_reason = NULL
     WHERE j.status = 'failed'
       AND j.last_error LIKE 'NumericValueOutOfRangeError%'
       AND EXISTS (SELECT 1 FROM videos v WHERE v.id = j.video_id AND v.deleted_at IS NULL)
       AND NOT EXISTS (SELECT 1 FROM vod_jobs other
                        WHERE other.video_id = j.video_id AND other.status IN ('queued', 'running'))
       AND j.id = (SELECT latest.id FROM vod_jobs latest WHERE latest.video_id = j.video_id
                    ORDER BY latest.created_at DESC LIMIT 1)
 RETURNING j.video_id
)
UPDATE videos SET status = 'processing'
 WHERE id IN (SELECT video_id FROM retry);
