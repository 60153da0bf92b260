-- One view per viewer (user, or IP address when anonymous) per video per window: a repeat
-- playback in the window is still stored (its duration and completion are analytics) but is
-- not counted in videos.view_count.
ALTER TABLE video_views ADD COLUMN counted BOOLEAN NOT NULL DEFAULT true;

CREATE OR REPLACE FUNCTION update_video_view_count() RETURNS TRIGGER
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.counted THEN
        UPDATE videos SET view_count = view_count + 1 WHERE id = NEW.video_id;
    END IF;
    RETURN NEW;
END;
$$;
