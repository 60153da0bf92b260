// The JSON API: fetch with the session token, errors turned into sentences people can act on.

const SESSION_KEY = 'vilokanam.session';

export class ApiError extends Error {
  constructor(status, code, message, headers) {
    super(message);
    this.status = status;
    this.code = code;
    this.headers = headers;
  }
}

/** The signed-in session {token, user, expires_at} of this tab, or null. */
export function currentSession() {
  try {
    const session = JSON.parse(sessionStorage.getItem(SESSION_KEY));
    if (session && Date.parse(session.expires_at) > Date.now()) return session;
  } catch { /* a corrupt entry counts as signed out */ }
  return null;
}

export function saveSession(session) {
  sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
  window.dispatchEvent(new CustomEvent('vk-session', { detail: session }));
}

export function clearSession() {
  sessionStorage.removeItem(SESSION_KEY);
  window.dispatchEvent(new CustomEvent('vk-session', { detail: null }));
}

export function authHeaders(token = currentSession()?.token) {
  return token ? { Authorization: `Bearer ${token}` } : {};
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

/** Call a JSON endpoint; the parsed body, or null for an empty one. `headers`: more of them
 * (e.g. an Idempotency-Key on a request that moves money). */
export async function api(path, { method = 'GET', body, token, headers: extra = {} } = {}) {
  const headers = { ...authHeaders(token), ...extra };
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
