// /broadcast/{id}: camera and microphone published over WHIP with the creator's stream key.

import { api, ApiError, currentSession, describe, say, streamIdFromPath } from './api.js';
import { mountChat } from './chat.js';
import { connectEvents } from './events.js';
import { mountSignIn } from './signin.js';
import { showLive, showStream, showViewers } from './stream_info.js';
import { hangUp, iceServers, negotiate } from './webrtc.js';

const streamId = streamIdFromPath();
const whipUrl = `/whip/${encodeURIComponent(streamId)}`;
const preview = document.getElementById('preview');
const form = document.getElementById('publish');
const keyInput = document.getElementById('stream-key');
const startButton = document.getElementById('start');
const stopButton = document.getElementById('stop');
const status = document.getElementById('publish-status');

const ownerControls = document.getElementById('owner-controls');
const endButton = document.getElementById('end-broadcast');

let pc = null;
let media = null;
let sessionUrl = null;
let stream = null; // the stream as last loaded: its creator decides who sees "End broadcast"
let liveStatus = null;

const CAMERA_ERRORS = {
  NotAllowedError: 'Camera or microphone access was refused. Allow it for this site in the browser settings, then try again.',
  NotFoundError: 'No camera or microphone was found. Connect one and try again.',
  NotReadableError: 'The camera or microphone is in use by another application.',
};

async function openCamera() {
  try {
    return await navigator.mediaDevices.getUserMedia({
      video: { width: { ideal: 1280 }, height: { ideal: 720 } }, audio: true,
    });
  } catch (error) {
    throw new Error(CAMERA_ERRORS[error.name] ?? `The camera could not be opened: ${error.message}`);
  }
}

function whipRefusal(error) {
  if (!(error instanceof ApiError)) return describe(error);
  if (error.status === 401) return 'Wrong stream key. Copy it again from when you created the stream, or rotate the key.';
  if (error.status === 404) return 'This stream does not exist.';
  if (error.status === 409) return `Cannot go live: ${error.message}.`;
  return `The server refused the broadcast: ${error.message}`;
}

async function start() {
  setBusy(true);
  say(status, 'Opening camera and microphone…');
  try {
    media = await openCamera();
    preview.srcObject = media;
    pc = new RTCPeerConnection({ iceServers: await iceServers(whipUrl) });
    for (const track of media.getTracks()) pc.addTransceiver(track, { direction: 'sendonly', streams: [media] });
    const connection = pc;
    connection.addEventListener('connectionstatechange', () => onConnectionState(connection));
    say(status, 'Connecting to the server…');
    sessionUrl = await negotiate(pc, whipUrl, keyInput.value.trim());
  } catch (error) {
    await stop();
    say(status, error instanceof ApiError ? whipRefusal(error) : describe(error), 'error');
  }
}

function onConnectionState(connection) {
  if (connection !== pc) return;
  if (connection.connectionState === 'connected') say(status, 'You are live.', 'ok');
  if (connection.connectionState === 'failed') {
    stop();
    say(status, 'The connection to the server was lost. Press Go live to start again.', 'error');
  }
}

/** Stop publishing: DELETE the WHIP session, close the connection, release the camera. */
async function stop({ keepalive = false } = {}) {
  const [connection, url] = [pc, sessionUrl];
  pc = null;
  sessionUrl = null;
  connection?.close();
  media?.getTracks().forEach((track) => track.stop());
  media = null;
  preview.srcObject = null;
  await hangUp(url, keyInput.value.trim(), { keepalive });
  setBusy(false);
}

function setBusy(publishing) {
  startButton.disabled = publishing;
  stopButton.disabled = !publishing;
  keyInput.readOnly = publishing;
}

/** "End broadcast" is for the signed-in creator of a live stream, whoever publishes it. */
function showOwnerControls() {
  const mine = stream && currentSession()?.user?.id === stream.creator.id;
  ownerControls.hidden = !(mine && liveStatus === 'live');
}

async function endBroadcast() {
  endButton.disabled = true;
  try {
    await api(`/api/streams/${encodeURIComponent(streamId)}/end`, { method: 'POST' });
    if (pc) await stop();
    say(status, 'The broadcast has ended.');
  } catch (error) {
    const text = error instanceof ApiError && error.status === 409
      ? 'The stream is not live.' : `Could not end the broadcast: ${describe(error)}`;
    say(status, text, 'error');
  } finally {
    endButton.disabled = false;
  }
}

function onStatus(value) {
  liveStatus = value;
  showLive(value);
  showOwnerControls();
  if (value === 'ended' && pc) { // ended by the owner or a key rotation, maybe elsewhere
    stop();
    say(status, 'The broadcast was ended. Press Go live to start again.');
  }
}

endButton.addEventListener('click', endBroadcast);
window.addEventListener('vk-session', showOwnerControls);
form.addEventListener('submit', (event) => { event.preventDefault(); start(); });
stopButton.addEventListener('click', async () => { await stop(); say(status, 'Broadcast stopped.'); });
window.addEventListener('pagehide', () => stop({ keepalive: true }));

document.getElementById('watch-link').href = `/watch/${encodeURIComponent(streamId)}`;
mountSignIn(document.getElementById('signin'));
const events = connectEvents(streamId, {
  onMessage: (message) => {
    if (chat.handle(message)) return;
    if (message.type === 'viewers') showViewers(message.count);
    if (message.type === 'status') onStatus(message.status);
  },
  onState: (state) => { if (state === 'gone') say(status, 'This stream does not exist.', 'error'); },
});
const chat = mountChat(document.getElementById('chat'), events);
showStream(streamId)
  .then((loaded) => { stream = loaded; onStatus(loaded.status); })
  .catch((error) => say(status, `Could not load the stream: ${describe(error)}`, 'error'));
