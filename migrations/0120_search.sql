-- Full-text search over stream and video titles and descriptions (GET /api/search).
-- The 'simple' configuration lowercases words without stemming: titles are in any language.
-- The expressions must stay identical to signaling/api/search/queries.py's DOCUMENT.
CREATE INDEX IF NOT EXISTS streams_search_idx ON streams
    USING GIN (to_tsvector('simple', title || ' ' || coalesce(description, '')));
CREATE INDEX IF NOT EXISTS videos_search_idx ON videos
    USING GIN (to_tsvector('simple', title || ' ' || coalesce(description, '')));
