-- Views and triggers of seed document 002.

CREATE VIEW creator_dashboard AS
SELECT
    u.id                                            AS creator_id,
    u.username,
    COUNT(DISTINCT v.id)                            AS total_videos,
    COUNT(DISTINCT s.id)                            AS total_streams,
    -- Sum per distinct row: joining videos and streams multiplies rows, so plain SUMs
    -- over the join would count each video once per stream (a bug in the seed's view).
    COALESCE((SELECT SUM(v2.view_count) FROM videos v2
              WHERE v2.creator_id = u.id AND v2.status = 'ready'), 0)  AS total_video_views,
    COALESCE((SELECT SUM(s2.viewer_count) FROM streams s2
              WHERE s2.creator_id = u.id), 0)                          AS total_stream_viewers,
    COALESCE(MAX(s.start_time), MAX(v.published_at)) AS last_activity,
    COALESCE(ce.total_earnings, 0)                  AS total_earnings
FROM users u
LEFT JOIN videos v ON v.creator_id = u.id AND v.status = 'ready'
LEFT JOIN streams s ON s.creator_id = u.id
LEFT JOIN creator_earnings ce ON ce.creator_id = u.id
WHERE u.is_creator
GROUP BY u.id, u.username, ce.total_earnings;

CREATE VIEW video_analytics AS
SELECT
    v.id                    AS video_id,
    v.title,
    v.creator_id,
    u.username              AS creator_username,
    v.duration,
    v.view_count,
    v.like_count,
    v.comment_count,
    -- The seed counted rows as "unique viewers"; count distinct signed-in viewers instead and
    -- every anonymous view separately.
    COUNT(DISTINCT vv.viewer_id) + COUNT(vv.id) FILTER (WHERE vv.viewer_id IS NULL)
                            AS unique_viewers,
    AVG(vv.view_duration)   AS avg_view_duration,
    AVG(vv.watch_completion) AS avg_watch_completion,
    v.published_at,
    v.created_at
FROM videos v
JOIN users u ON u.id = v.creator_id
LEFT JOIN video_views vv ON vv.video_id = v.id
WHERE v.status = 'ready'
GROUP BY v.id, u.username;

CREATE FUNCTION update_updated_at_column() RETURNS TRIGGER
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at = now();
    RETURN NEW;
END;
$$;

-- The seed covered videos, streams and users; every table with updated_at gets it here.
CREATE TRIGGER update_users_updated_at BEFORE UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();
CREATE TRIGGER update_videos_updated_at BEFORE UPDATE ON videos
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();
CREATE TRIGGER update_streams_updated_at BEFORE UPDATE ON streams
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();
CREATE TRIGGER update_stream_viewers_updated_at BEFORE UPDATE ON stream_viewers
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();
CREATE TRIGGER update_creator_earnings_updated_at BEFORE UPDATE ON creator_earnings
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();
CREATE TRIGGER update_comments_updated_at BEFORE UPDATE ON comments
    FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();

CREATE FUNCTION update_video_view_count() RETURNS TRIGGER
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE videos SET view_count = view_count + 1 WHERE id = NEW.video_id;
    RETURN NEW;
END;
$$;

CREATE TRIGGER update_video_view_count_trigger AFTER INSERT ON video_views
    FOR EACH ROW EXECUTE FUNCTION update_video_view_count();
