-- Recordings of paid streams are not free public videos: until paid VOD exists such a video is
-- private (listed, served and playable only for its creator) until the creator publishes it.
ALTER TABLE videos ADD COLUMN is_private BOOLEAN NOT NULL DEFAULT false;

DROP INDEX idx_videos_public_newest;
DROP INDEX idx_videos_public_views;
CREATE INDEX idx_videos_public_newest ON videos (created_at DESC, id DESC)
    WHERE status = 'ready' AND deleted_at IS NULL AND NOT is_private;
CREATE INDEX idx_videos_public_views ON videos (view_count DESC, id DESC)
    WHERE status = 'ready' AND deleted_at IS NULL AND NOT is_private;
