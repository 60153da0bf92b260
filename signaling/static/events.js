// The stream's WebSocket: chat, viewer count, status and personal notices, reconnecting.

import { currentSession } from './api.js';

const CLOSE_UNKNOWN_STREAM = 4404;
const MAX_BACKOFF_MS = 10000;

/**
 * Connect to /ws/streams/{id}; `onMessage(message)` gets every server message, `onState(state)`
 * gets 'open' | 'reconnecting' | 'gone'. The session token is sent in a message, never the URL.
 */
export function connectEvents(streamId, { onMessage, onState }) {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const url = `${scheme}//${location.host}/ws/streams/${encodeURIComponent(streamId)}`;
  let socket = null;
  let backoff = 500;
  let stopped = false;

  function authenticate() {
    const token = currentSession()?.token;
    if (token && socket?.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: 'auth', token }));
  }

  function open() {
    socket = new WebSocket(url);
    socket.addEventListener('open', () => { backoff = 500; onState('open'); authenticate(); });
    socket.addEventListener('message', (event) => {
      try { onMessage(JSON.parse(event.data)); } catch (error) { console.error(error); }
    });
    socket.addEventListener('close', (event) => {
      if (stopped) return;
      if (event.code === CLOSE_UNKNOWN_STREAM) { onState('gone'); return; }
      onState('reconnecting');
      setTimeout(open, backoff);
      backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
    });
  }

  // Signing in or out changes who this socket speaks for: reconnect to start clean.
  window.addEventListener('vk-session', () => {
    if (currentSession()) authenticate(); else socket?.close();
  });
  open();
  return {
    send(message) {
      if (socket?.readyState !== WebSocket.OPEN) return false;
      socket.send(JSON.stringify(message));
      return true;
    },
    close() { stopped = true; socket?.close(); },
  };
}
