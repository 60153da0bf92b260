// The JSON API: fetch with the session cookie, errors turned into sentences people can act on.
//
// The session token lives in an HttpOnly cookie that scripts never see. The pages learn who is
// signed in from GET /api/auth/session, keep it in memory, and send the CSRF token (the vk_csrf
// cookie) in X-CSRF-Token with every request. Other tabs of the site hear of sign-in and sign-out
// on a BroadcastChannel and ask the server again; every change fires 'vk-session' on window.

const CSRF_COOKIE = 'vk_csrf';
const channel = 'BroadcastChannel' in window ? new BroadcastChannel('vilokanam.session') : null;
let session = null; // {user, expires_at} while signed in, as the server last said

export class ApiError extends Error {
  constructor(status, code, message, headers) {
    super(message);
    this.status = status;
    this.code = code;
    this.headers = headers;
  }
}

/** The signed-in session {user, expires_at} as last heard from the server, or null. */
export function currentSession() {
  return session && Date.parse(session.expires_at) > Date.now() ? session : null;
}

function setSession(next) {
  const changed = JSON.stringify(next) !== JSON.stringify(session);
  session = next;
  if (changed) window.dispatchEvent(new CustomEvent('vk-session', { detail: currentSession() }));
}

/** Ask the server who is signed in (on load, when another tab changed it, when shown again). */
export async function refreshSession() {
  try {
    const answer = await (await fetch('/api/auth/session', { headers: authHeaders() })).json();
    setSession(answer.user ? answer : null);
  } catch { /* unreachable: keep what we knew */ }
  return currentSession();
}

/** This tab signed in (the server set the cookie): tell this tab and the others. */
export function saveSession({ user, expires_at }) {
  setSession({ user, expires_at });
  channel?.postMessage('changed');
}

/** This tab signed out (the server ended the session): tell this tab and the others. */
export function clearSession() {
  setSession(null);
  channel?.postMessage('changed');
}

channel?.addEventListener('message', refreshSession);
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible') refreshSession(); // e.g. signed out on another device
});
refreshSession();

function cookie(name) {
  const found = document.cookie.split('; ').find((pair) => pair.startsWith(`${name}=`));
  return found ? decodeURIComponent(found.slice(name.length + 1)) : null;
}

/** Headers that let a same-origin request act for the signed-in user: the cookie goes by itself,
 * a request that changes something also needs the CSRF token. */
export function authHeaders() {
  const csrf = cookie(CSRF_COOKIE);
  return csrf ? { 'X-CSRF-Token': csrf } : {};
}

/** Throw an ApiError for a non-2xx response, with the server's message when it sent one. */
export async function checked(response) {
  if (response.ok) return response;
  let code = 'error';
  let message = `${response.status} ${response.statusText}`;
  try {
    const body = await response.json();
    code = body.error?.code ?? code;
    message = body.error?.message ?? message;
  } catch { /* not JSON: keep the status line */ }
  throw new ApiError(response.status, code, message, response.headers);
}

/** Call a JSON endpoint; the parsed body, or null for an empty one. */
export async function api(path, { method = 'GET', body, headers: extra = {} } = {}) {
  const headers = { ...authHeaders(), ...extra };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await checked(await fetch(path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  }));
  const text = await response.text();
  return text ? JSON.parse(text) : null;
}

/** A sentence for an error of any kind (network, API, browser). */
export function describe(error) {
  if (error instanceof ApiError) return error.message;
  if (error instanceof TypeError) return 'The server cannot be reached. Check your connection.';
  return error?.message || String(error);
}

/** The stream id of /watch/{id} or /broadcast/{id}. */
export function streamIdFromPath() {
  return decodeURIComponent(location.pathname.split('/').filter(Boolean).pop() ?? '');
}

/** Set the text of a status element (an aria-live region) and its tone. */
export function say(element, text, tone = 'info') {
  element.textContent = text;
  element.dataset.tone = tone;
  element.hidden = !text;
}

/** A short form of an SS58 address for display. */
export function shortAddress(address) {
  return address && address.length > 14 ? `${address.slice(0, 6)}…${address.slice(-6)}` : address;
}

export function displayName(user) {
  return user?.username || shortAddress(user?.account_id) || 'someone';
}
