// /watch/{id}: WHEP playback with automatic retry and reconnection, viewer count and chat.
// A paid stream plays only after the viewer clicks "Watch for X ROC/min" (watch_money.js);
// every WHEP request carries the price they agreed to (Vilokanam-Price); when the creator has
// changed it, the server answers 412 and the page asks the viewer again instead of playing.

import {
  ApiError, authHeaders, clearSession, currentSession, describe, say, streamIdFromPath,
} from './api.js';
import { mountChat } from './chat.js';
import { connectEvents } from './events.js';
import { showNotFound } from './missing.js';
import { mountPlayer } from './player.js';
import { mountSignIn } from './signin.js';
import { showLive, showStream, showViewers } from './stream_info.js';
import {
  askPrice, explainRefusal, hidePrice, isFree, loadBalance, loadToken, onBalance, onCut, setPrice,
  signInText,
} from './watch_money.js';
import { hangUp, iceServers, negotiateSession, sessionAlive } from './webrtc.js';

const BLIP_GRACE_MS = 2000;   // disconnected this long → start a new WHEP session
const DEFAULT_RETRY_S = 5;
// No new frame this long: ask the server whether our session still lives (its node may be
// dead: ICE only notices after ~5 s). A live session (a stalled publisher) is left alone and
// asked again after twice as long, so a stall does not make every viewer reconnect.
const STALL_MS = 1000;
const STALL_MAX_MS = 30000;
const FRAME_CHECK_MS = 250;

const streamId = streamIdFromPath();
const whepUrl = `/whep/${encodeURIComponent(streamId)}`;
const video = document.getElementById('video');
const status = document.getElementById('player-status');

let pc = null;
let sessionUrl = null;
let sessionEtag = null;
let retryTimer = null;
let blipTimer = null;
let stopped = false; // ended, cut or unknown: do not reconnect by ourselves
let starting = null;
let streamPrice = null; // planck per second, as a decimal string: the price on the page
let acceptedPrice = null; // what this viewer agreed to (a free stream needs no click)
// The last frame seen and when, how long a stall lasts before asking, a question pending.
const frames = { count: 0, at: 0, wait: STALL_MS, waiting: false, probing: false };

/** Start playback unless it is running or starting (the page, the socket and sign-in all ask). */
function play() {
  starting ??= startPlayback().finally(() => { starting = null; });
  return starting;
}

async function startPlayback() {
  clearTimeout(retryTimer);
  if (!currentSession()) { say(status, signInText()); return; }
  if (pc || streamPrice === null) return; // playing, or the price is not on the page yet
  if (acceptedPrice !== streamPrice) { // a paid stream: nothing plays before the viewer agrees
    say(status, '');
    askPrice(acceptedPrice !== null, accept);
    return;
  }
  const connection = new RTCPeerConnection({ iceServers: await iceServers(whepUrl) });
  pc = connection;
  const media = new MediaStream();
  video.srcObject = media;
  connection.addTransceiver('video', { direction: 'recvonly' });
  connection.addTransceiver('audio', { direction: 'recvonly' });
  connection.addEventListener('track', (event) => media.addTrack(event.track));
  connection.addEventListener('connectionstatechange', () => onConnectionState(connection));
  say(status, 'Connecting…');
  try {
    // No token: the session cookie signs the offer (authHeaders: its CSRF token).
    ({ url: sessionUrl, etag: sessionEtag } = await negotiateSession(connection, whepUrl, null,
      { ...authHeaders(), 'Vilokanam-Price': acceptedPrice }));
    Object.assign(frames, { count: 0, at: performance.now(), wait: STALL_MS, waiting: false });
  } catch (error) {
    await stop();
    refused(error);
  }
}

function refused(error) {
  if (!(error instanceof ApiError)) {
    say(status, `Could not start playback: ${describe(error)} Retrying…`, 'error');
    retryIn(DEFAULT_RETRY_S);
  } else if (error.status === 409) {
    const seconds = Number(error.headers.get('Retry-After')) || DEFAULT_RETRY_S;
    say(status, `The stream is not live yet. Trying again in ${seconds} s…`);
    retryIn(seconds);
  } else if (error.status === 412) {
    priceChanged(error.headers.get('Vilokanam-Price'));
  } else if (error.status === 401 && error.code === 'bad_ticket') {
    say(status, 'Moving you to another server failed. Retrying…', 'error'); // not a sign-out
    retryIn(1);
  } else if (error.status === 401) {
    clearSession();
    say(status, 'Your session has expired. Sign in again to watch.', 'error');
  } else if (error.status === 402) {
    stopped = true;
    explainRefusal(status);
  } else if (error.status === 404) {
    gone();
  } else if (error.status === 503 && error.code === 'origin_unavailable') {
    // The node it is published on stopped answering (killed?): not live until it is back.
    const seconds = Number(error.headers.get('Retry-After')) || DEFAULT_RETRY_S;
    say(status, `The stream is not reachable right now. Trying again in ${seconds} s…`);
    retryIn(seconds);
  } else if (error.status === 503) {
    const seconds = Number(error.headers.get('Retry-After')) || DEFAULT_RETRY_S;
    say(status, `Every server is busy. Trying again in ${seconds} s…`, 'error');
    retryIn(seconds);
  } else {
    say(status, `Could not start playback: ${describe(error)}`, 'error');
  }
}

/** No such stream (never was, or deleted): stop everything and say so in place of the player. */
function gone() {
  stopped = true;
  stop();
  events.close();
  showNotFound('Stream', 'There is no stream at this address. It may have been deleted, or the link is mistyped.');
}

/** The stream's price on the page; a free one needs no agreement. */
function knowPrice(price) {
  streamPrice = price;
  setPrice(price);
  if (isFree()) acceptedPrice = price;
}

/** The price changed since the viewer saw it: show the new one and wait for their consent. */
function priceChanged(price) {
  stopped = true; // no retry, no auto-play until they accept
  knowPrice(price);
  say(status, '');
  if (isFree()) accept(price);
  else askPrice(true, accept);
}

function accept(price) {
  acceptedPrice = price;
  stopped = false;
  play();
}

function retryIn(seconds) {
  clearTimeout(retryTimer);
  retryTimer = setTimeout(play, seconds * 1000);
}

function onConnectionState(connection) {
  if (connection !== pc) return;
  const state = connection.connectionState;
  if (state === 'connected') {
    clearTimeout(blipTimer);
    blipTimer = null;
    say(status, '');
  } else if ((state === 'disconnected' || state === 'failed') && !blipTimer) {
    say(status, 'Connection interrupted. Reconnecting…', 'error');
    blipTimer = setTimeout(reconnect, state === 'failed' ? 0 : BLIP_GRACE_MS);
  }
}

/** A stalled video whose session is gone (ended, or its node died): a new session now. */
async function checkFrames() {
  if (!pc || !sessionUrl || stopped || frames.probing) return;
  const count = video.getVideoPlaybackQuality().totalVideoFrames;
  const now = performance.now();
  if (count !== frames.count) {
    if (frames.waiting) say(status, '');
    Object.assign(frames, { count, at: now, wait: STALL_MS, waiting: false });
    return;
  }
  if (count === 0 || now - frames.at < frames.wait) return; // not started: ICE states decide
  const connection = pc;
  frames.probing = true;
  const alive = await sessionAlive(sessionUrl, sessionEtag, null)
    .finally(() => { frames.probing = false; });
  if (connection !== pc) return;
  frames.at = performance.now();
  if (alive === false) {
    say(status, 'Connection interrupted. Reconnecting…', 'error');
    await stop();
    if (!stopped) await play();
  } else if (alive) { // the session lives: the broadcaster's video stalled, ask again later
    Object.assign(frames, { wait: Math.min(frames.wait * 2, STALL_MAX_MS), waiting: true });
    say(status, 'No video from the broadcaster right now. Waiting for it…');
  }
}

setInterval(checkFrames, FRAME_CHECK_MS);

async function reconnect() {
  blipTimer = null;
  if (!pc || pc.connectionState === 'connected') return;
  await stop();
  if (!stopped) await play();
}

/** The server playing to us is going away (draining): a new session, on another server. */
async function moveToAnotherServer() {
  if (stopped || !pc) return; // a cut for money stays a cut
  say(status, 'This server is going away. Reconnecting to another one…');
  await stop();
  if (!stopped) await play();
}

/** Close the peer connection and DELETE the WHEP session. */
async function stop({ keepalive = false } = {}) {
  clearTimeout(retryTimer);
  clearTimeout(blipTimer);
  blipTimer = null;
  const [connection, url] = [pc, sessionUrl];
  pc = null;
  sessionUrl = null;
  sessionEtag = null;
  connection?.close();
  await hangUp(url, null, { keepalive }); // the session URL is the secret
}

function onEvent(message) {
  if (chat.handle(message)) return;
  if (message.type === 'viewers') showViewers(message.count);
  else if (message.type === 'status') onStatus(message.status);
  else if (message.type === 'reconnect') moveToAnotherServer();
  else if (message.type === 'cut') {
    stopped = true;
    stop();
    if (message.reason === 'silent') {
      say(status, 'Playback stopped: your player stopped confirming that it receives the stream.', 'error');
    } else {
      onCut(status);
    }
  } else if (message.type === 'balance') {
    onBalance(message);
  }
}

function onStatus(streamStatus) {
  showLive(streamStatus);
  if (streamStatus === 'live' && !pc && !stopped && currentSession()) play();
  if (streamStatus === 'ended' && pc) {
    stop();
    say(status, 'The stream has ended. Thanks for watching!');
  }
  if (streamStatus === 'ended') hidePrice(); // nothing left to agree to
}

mountPlayer(video, { live: true });
mountSignIn(document.getElementById('signin'));
const events = connectEvents(streamId, {
  onMessage: onEvent,
  onState: (state) => {
    if (state === 'gone') gone();
  },
});
const chat = mountChat(document.getElementById('chat'), events);

/** Another person may sign in here: they agree to a paid stream's price themselves. */
function onSession() {
  acceptedPrice = isFree() ? streamPrice : null;
  hidePrice();
  loadBalance();
  if (currentSession()) {
    play();
  } else {
    stop();
    say(status, signInText());
  }
}

window.addEventListener('vk-session', onSession);
window.addEventListener('pagehide', () => stop({ keepalive: true }));

Promise.all([showStream(streamId), loadToken()]).then(([stream]) => {
  knowPrice(stream.price_per_second); // shown on the page before anything plays
  loadBalance();
  play();
}).catch((error) => {
  if (error instanceof ApiError && error.status === 404) { gone(); return; }
  stopped = true;
  say(status, `Could not load the stream: ${describe(error)}`, 'error');
});
