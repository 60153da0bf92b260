// WHIP/WHEP over fetch: offer with every candidate (no trickle), answer, session Location.

import { checked } from './api.js';

const GATHER_TIMEOUT_MS = 3000;

/** ICE servers from `Link: <url>; rel="ice-server"` headers (STUN/TURN the server hands out). */
function iceServersFromLinks(header) {
  if (!header) return [];
  return header.split(/,(?=\s*<)/).filter((link) => /rel="ice-server"/.test(link)).map((link) => {
    const server = { urls: link.match(/<([^>]+)>/)[1] };
    const username = link.match(/username="([^"]*)"/);
    const credential = link.match(/credential="([^"]*)"/);
    if (username) server.username = username[1];
    if (credential) server.credential = credential[1];
    return server;
  });
}

/** The server's ICE servers, from an OPTIONS request to the WHIP/WHEP endpoint. */
export async function iceServers(endpoint) {
  try {
    const response = await fetch(endpoint, { method: 'OPTIONS' });
    return iceServersFromLinks(response.headers.get('Link'));
  } catch {
    return [];
  }
}

function gatheringComplete(pc) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      if (pc.iceGatheringState !== 'complete') return;
      pc.removeEventListener('icegatheringstatechange', done);
      resolve();
    };
    pc.addEventListener('icegatheringstatechange', done);
    setTimeout(resolve, GATHER_TIMEOUT_MS); // send what we have; the server gathers its own
  });
}

/**
 * POST the pc's offer to a WHIP/WHEP endpoint with a bearer token and apply the answer.
 * `headers` are added to the POST (e.g. the price a viewer accepted). Without a token (null) the
 * page's session cookie signs the offer, and `headers` must carry the CSRF token (authHeaders).
 * A full or draining node answers 307 to another node (with a ticket in place of the token):
 * fetch follows it with the same method and body. Returns the session URL, resolved against
 * the URL that answered (a redirected session lives on the other node).
 * Throws ApiError (status, headers) on refusal.
 */
export async function negotiate(pc, endpoint, token, headers = {}) {
  return (await negotiateSession(pc, endpoint, token, headers)).url;
}

/** As `negotiate`, with the session's ETag too: `{ url, etag }`. */
export async function negotiateSession(pc, endpoint, token, headers = {}) {
  await pc.setLocalDescription(await pc.createOffer());
  await gatheringComplete(pc);
  const response = await checked(await fetch(endpoint, {
    method: 'POST',
    headers: {
      ...headers, 'Content-Type': 'application/sdp', ...(token ? { Authorization: `Bearer ${token}` } : {}),
    },
    body: pc.localDescription.sdp,
  }));
  await pc.setRemoteDescription({ type: 'answer', sdp: await response.text() });
  const url = new URL(response.headers.get('Location'), response.url).href;
  return { url, etag: response.headers.get('ETag') };
}

/**
 * Does the session still exist? An empty trickle PATCH (no candidates: changes nothing) to its
 * URL, which any node forwards to the node holding it: 204 while it lives, 404 once it ended,
 * 502 when its node is dead. true/false; null when the server could not be asked.
 */
export async function sessionAlive(sessionUrl, etag, token) {
  if (!sessionUrl || !etag) return null;
  try {
    const response = await fetch(sessionUrl, {
      method: 'PATCH',
      headers: {
        'Content-Type': 'application/trickle-ice-sdpfrag',
        'If-Match': etag,
        ...(token ? { Authorization: `Bearer ${token}` } : {}),
      },
      body: '',
    });
    if (response.status === 404 || response.status === 502) return false;
    return response.ok ? true : null;
  } catch {
    return null;
  }
}

/** End a WHIP/WHEP session; failures are ignored (the server also ends it on ICE loss). */
export async function hangUp(sessionUrl, token, { keepalive = false } = {}) {
  if (!sessionUrl) return;
  try {
    await fetch(sessionUrl, {
      method: 'DELETE', keepalive, headers: token ? { Authorization: `Bearer ${token}` } : {},
    });
  } catch { /* the peer connection closing ends it server-side too */ }
}
