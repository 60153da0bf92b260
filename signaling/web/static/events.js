// The server's WebSockets, reconnecting: a stream's (chat, viewer count, status, personal notices)
// and the creator dashboard's live earnings. A socket signs in with {"type":"auth"}: the server
// takes the session cookie the socket was opened with (from this site's own pages only).

import { currentSession } from './api.js';

const CLOSE_UNAUTHORIZED = 4401;
const CLOSE_FORBIDDEN = 4403;
const CLOSE_UNKNOWN_STREAM = 4404;
const MAX_BACKOFF_MS = 10000;

/**
 * Keep a socket to `path` open. `onMessage(message)` gets every server message, `onState(state)`
 * gets 'open' | 'reconnecting' or, for a close code in `finalCodes` ({code: state}), that state,
 * after which it stays closed. `onOpen(send)` runs on every (re)connection.
 */
function connectSocket(path, { onMessage, onState, onOpen, finalCodes = {} }) {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const url = `${scheme}//${location.host}${path}`;
  let socket = null;
  let backoff = 500;
  let stopped = false;
  let pending = []; // sent while the socket connects: they follow onOpen's messages

  function send(message) {
    if (socket?.readyState === WebSocket.CONNECTING) { pending.push(message); return true; }
    if (socket?.readyState !== WebSocket.OPEN) return false;
    socket.send(JSON.stringify(message));
    return true;
  }

  function open() {
    const current = new WebSocket(url);
    socket = current;
    current.addEventListener('open', () => {
      backoff = 500;
      onState('open');
      onOpen?.(send);
      const queued = pending;
      pending = [];
      queued.forEach(send);
    });
    current.addEventListener('message', (event) => {
      try { onMessage(JSON.parse(event.data)); } catch (error) { console.error(error); }
    });
    current.addEventListener('close', (event) => {
      if (stopped || current !== socket) return; // closed, or replaced by renew()
      if (event.code in finalCodes) { onState(finalCodes[event.code]); return; }
      onState('reconnecting');
      setTimeout(open, backoff);
      backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
    });
  }

  open();
  return {
    send,
    reconnect() { socket?.close(); },
    /** A new socket at once (it carries the cookies as they are now); the old one is dropped. */
    renew() {
      const old = socket;
      pending = [];
      open();
      old?.close();
    },
    close() { stopped = true; socket?.close(); },
  };
}

function authenticate(send) {
  if (currentSession()) send({ type: 'auth' });
}

/**
 * Connect to /ws/streams/{id}; `onMessage(message)` gets every server message, `onState(state)`
 * gets 'open' | 'reconnecting' | 'gone'.
 */
export function connectEvents(streamId, { onMessage, onState }) {
  const connection = connectSocket(`/ws/streams/${encodeURIComponent(streamId)}`, {
    onMessage, onState, onOpen: authenticate, finalCodes: { [CLOSE_UNKNOWN_STREAM]: 'gone' },
  });
  // Signing in or out changes who this socket speaks for: reconnect, so that the new socket
  // carries the cookie as it is now.
  window.addEventListener('vk-session', () => connection.renew());
  return connection;
}

/**
 * Connect to /ws/creator as the signed-in creator: {"type":"earnings",…} once on connect, then
 * every second while one of their streams is live. `onState(state)` gets 'open' |
 * 'reconnecting' | 'refused' (signed out, or not a creator).
 */
export function connectEarnings({ onMessage, onState }) {
  return connectSocket('/ws/creator', {
    onMessage,
    onState,
    // The server expects the auth message first; signed out, it refuses the socket (4401).
    onOpen: (send) => send({ type: 'auth' }),
    finalCodes: { [CLOSE_UNAUTHORIZED]: 'refused', [CLOSE_FORBIDDEN]: 'refused' },
  });
}
