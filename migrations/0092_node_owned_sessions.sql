-- Which server process (node) serves a live session or a view: a node that dies (kill -9)
-- leaves them open, and the other nodes close them once its heartbeat in Redis has expired
-- (signaling/node_liveness.py). NULL: opened before this migration, by no node alive now.
ALTER TABLE stream_sessions ADD COLUMN node_id UUID;
ALTER TABLE stream_viewers ADD COLUMN node_id UUID;
CREATE INDEX idx_stream_sessions_open ON stream_sessions (node_id) WHERE end_time IS NULL;
CREATE INDEX idx_stream_viewers_open ON stream_viewers (node_id) WHERE is_active;
