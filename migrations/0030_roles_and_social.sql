-- Roles, and the social counters kept by triggers (issue 7, item 2).
--
-- Counters (videos.like_count, videos.comment_count, comments.like_count) change only in
-- triggers on the rows they count, in the same transaction as the change: an API path that
-- forgets them, a retried request or two concurrent likes cannot make them drift. The UPDATE in
-- each trigger locks the counted row, so concurrent changes apply one after the other.

-- roles -------------------------------------------------------------------------------------
-- Admins manage categories; moderators review reports (an admin may do both). Granted only by
-- `vilokanam grant moderator|admin ADDRESS`.
ALTER TABLE users
    ADD COLUMN is_moderator BOOLEAN NOT NULL DEFAULT FALSE,
    ADD COLUMN is_admin     BOOLEAN NOT NULL DEFAULT FALSE;

-- categories --------------------------------------------------------------------------------
-- Names are unique whatever their case ("Music" and "music" are one category).
CREATE UNIQUE INDEX idx_categories_name_lower ON categories (lower(name));
CREATE INDEX idx_categories_created ON categories (created_at, id);
-- Deleting a category leaves its streams uncategorised instead of failing.
ALTER TABLE streams DROP CONSTRAINT streams_category_id_fkey,
    ADD CONSTRAINT streams_category_id_fkey FOREIGN KEY (category_id)
        REFERENCES categories(id) ON DELETE SET NULL;
CREATE INDEX idx_video_categories_category ON video_categories (category_id);

-- likes -------------------------------------------------------------------------------------
CREATE FUNCTION count_video_like() RETURNS TRIGGER
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE videos SET like_count = like_count + 1 WHERE id = NEW.video_id;
    ELSE
        UPDATE videos SET like_count = like_count - 1 WHERE id = OLD.video_id;
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER video_likes_count AFTER INSERT OR DELETE ON video_likes
    FOR EACH ROW EXECUTE FUNCTION count_video_like();

CREATE FUNCTION count_comment_like() RETURNS TRIGGER
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE comments SET like_count = like_count + 1 WHERE id = NEW.comment_id;
    ELSE
        UPDATE comments SET like_count = like_count - 1 WHERE id = OLD.comment_id;
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER comment_likes_count AFTER INSERT OR DELETE ON comment_likes
    FOR EACH ROW EXECUTE FUNCTION count_comment_like();

-- comments ----------------------------------------------------------------------------------
-- videos.comment_count = the video's comments (replies included) that are not deleted.
CREATE FUNCTION count_video_comment() RETURNS TRIGGER
LANGUAGE plpgsql AS $$
DECLARE
    delta INTEGER := 0;
    target UUID;
BEGIN
    IF TG_OP = 'INSERT' THEN
        target := NEW.video_id;
        delta := CASE WHEN NEW.is_deleted THEN 0 ELSE 1 END;
    ELSIF TG_OP = 'DELETE' THEN
        target := OLD.video_id;
        delta := CASE WHEN OLD.is_deleted THEN 0 ELSE -1 END;
    ELSIF OLD.is_deleted <> NEW.is_deleted THEN
        target := NEW.video_id;
        delta := CASE WHEN NEW.is_deleted THEN -1 ELSE 1 END;
    END IF;
    IF target IS NOT NULL AND delta <> 0 THEN
        UPDATE videos SET comment_count = comment_count + delta WHERE id = target;
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER comments_count AFTER INSERT OR DELETE OR UPDATE OF is_deleted ON comments
    FOR EACH ROW EXECUTE FUNCTION count_video_comment();

-- A reply belongs to its parent's video or stream, and a comment never moves to another video,
-- stream or thread (so a check made when it was written stays true).
CREATE FUNCTION keep_comment_place() RETURNS TRIGGER
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF NEW.video_id IS DISTINCT FROM OLD.video_id
           OR NEW.stream_id IS DISTINCT FROM OLD.stream_id
           OR NEW.parent_id IS DISTINCT FROM OLD.parent_id THEN
            RAISE EXCEPTION 'a comment cannot move' USING ERRCODE = 'check_violation';
        END IF;
    ELSIF NEW.parent_id IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM comments p
            WHERE p.id = NEW.parent_id
              AND p.video_id IS NOT DISTINCT FROM NEW.video_id
              AND p.stream_id IS NOT DISTINCT FROM NEW.stream_id) THEN
        RAISE EXCEPTION 'the parent comment belongs elsewhere' USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER comments_stay BEFORE INSERT OR UPDATE ON comments
    FOR EACH ROW EXECUTE FUNCTION keep_comment_place();

-- Listing pages walk (created_at, id) newest first within a video, stream or thread.
CREATE INDEX idx_comments_video_page ON comments (video_id, created_at DESC, id DESC)
    WHERE video_id IS NOT NULL;
CREATE INDEX idx_comments_stream_page ON comments (stream_id, created_at DESC, id DESC)
    WHERE stream_id IS NOT NULL;
CREATE INDEX idx_comments_parent_page ON comments (parent_id, created_at DESC, id DESC)
    WHERE parent_id IS NOT NULL;

-- reports -----------------------------------------------------------------------------------
-- One pending report per reporter and target: reporting again waits for the review.
CREATE UNIQUE INDEX idx_reports_pending_once ON reports (reporter_id, target_type, target_id)
    WHERE status = 'pending';
CREATE INDEX idx_reports_queue ON reports (status, created_at DESC, id DESC);
-- A report is reviewed exactly when it has left 'pending'.
ALTER TABLE reports ADD CONSTRAINT reports_review_recorded
    CHECK ((status = 'pending') = (reviewed_at IS NULL));
