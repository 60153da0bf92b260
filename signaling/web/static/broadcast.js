// /broadcast/{id}: camera and microphone published over WHIP with the creator's stream key;
// a preview and device pickers before going live, mute toggles, a timer and health while live,
// and the OBS/GStreamer panel (obs_panel.js).

import { api, ApiError, currentSession, describe, say, streamIdFromPath } from './api.js';
import { mountChat } from './chat.js';
import { ask } from './confirm.js';
import { Capture } from './devices.js';
import { connectEvents } from './events.js';
import { watchHealth } from './health.js';
import { startTimer } from './live_timer.js';
import { mountObsPanel } from './obs_panel.js';
import { mountSignIn } from './signin.js';
import { showLive, showStream, showViewers } from './stream_info.js';
import { hangUp, iceServers, negotiate } from './webrtc.js';

const streamId = streamIdFromPath();
const whipUrl = `/whip/${encodeURIComponent(streamId)}`;
const capture = new Capture(document.getElementById('preview'));
const form = document.getElementById('publish');
const keyInput = document.getElementById('stream-key');
const startButton = document.getElementById('start');
const stopButton = document.getElementById('stop');
const status = document.getElementById('publish-status');

const ownerControls = document.getElementById('owner-controls');
const endButton = document.getElementById('end-broadcast');
const pickers = { video: document.getElementById('camera-select'), audio: document.getElementById('microphone-select') };
const muteButtons = { video: document.getElementById('mute-camera'), audio: document.getElementById('mute-microphone') };
const onAir = document.getElementById('on-air');
const healthFigures = {
  bitrate: document.getElementById('health-bitrate'),
  loss: document.getElementById('health-loss'),
  rtt: document.getElementById('health-rtt'),
};

let pc = null;
let sessionUrl = null;
let stopOnAir = null; // stops the live timer and the health figures
let stream = null; // the stream as last loaded: its creator decides who sees "End broadcast"
let liveStatus = null;

/** Open the camera and microphone for the preview, then list the devices (named once allowed). */
async function openPreview() {
  await capture.open({ video: pickers.video.value, audio: pickers.audio.value });
  await capture.fillPickers(pickers.video, pickers.audio);
  Object.values(muteButtons).forEach((button) => { button.disabled = false; });
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
    await openPreview();
    const media = capture.media;
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
  if (connection.connectionState === 'connected' && !stopOnAir) {
    say(status, 'You are live.', 'ok');
    showOnAir(connection);
  }
  if (connection.connectionState === 'failed') {
    stop();
    say(status, 'The connection to the server was lost. Press Go live to start again.', 'error');
  }
}

/** The live timer and the connection health, shown while connected. */
function showOnAir(connection) {
  const [stopTimer, stopHealth] = [startTimer(document.getElementById('live-timer')), watchHealth(connection, healthFigures)];
  stopOnAir = () => { stopTimer(); stopHealth(); };
  onAir.hidden = false;
}

/** Stop publishing: DELETE the WHIP session and close the connection; the preview stays. */
async function stop({ keepalive = false } = {}) {
  const [connection, url] = [pc, sessionUrl];
  pc = null;
  sessionUrl = null;
  stopOnAir?.();
  stopOnAir = null;
  onAir.hidden = true;
  connection?.close();
  await hangUp(url, keyInput.value.trim(), { keepalive });
  setBusy(false);
}

/** A camera or microphone picked: the preview (and a live broadcast, by replaceTrack) use it. */
async function pickDevice(kind) {
  const sender = pc?.getSenders().find((candidate) => candidate.track === capture.track(kind));
  try {
    await capture.swap(kind, pickers[kind].value, sender);
  } catch (error) {
    say(status, describe(error), 'error');
  }
}

function toggleMute(kind) {
  const muted = muteButtons[kind].getAttribute('aria-pressed') !== 'true';
  muteButtons[kind].setAttribute('aria-pressed', String(muted));
  capture.setMuted(kind, muted);
}

function setBusy(publishing) {
  startButton.disabled = publishing;
  stopButton.disabled = !publishing;
  keyInput.readOnly = publishing;
}

/** "End broadcast" is for the signed-in creator of a live stream, whoever publishes it. */
function showOwnerControls() {
  const mine = Boolean(stream && currentSession()?.user?.id === stream.creator.id);
  ownerControls.hidden = !(mine && liveStatus === 'live');
  obsPanel.setOwner(mine);
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
stopButton.addEventListener('click', async () => {
  if (!(await ask(document.getElementById('stop-confirm'))) || !pc) return;
  await stop();
  say(status, 'Broadcast stopped.');
});
window.addEventListener('pagehide', () => { stop({ keepalive: true }); capture.close(); });
for (const kind of ['video', 'audio']) {
  pickers[kind].addEventListener('change', () => pickDevice(kind));
  muteButtons[kind].addEventListener('click', () => toggleMute(kind));
}
const obsPanel = mountObsPanel({ streamId, keyInput });
capture.onEnded = (kind) => {
  const device = kind === 'video' ? 'camera' : 'microphone';
  say(status, `The ${device} stopped: unplugged, or access to it was withdrawn. Pick one in the list to go on.`, 'error');
};
navigator.mediaDevices.addEventListener('devicechange', () => {
  if (capture.media) capture.fillPickers(pickers.video, pickers.audio).catch(() => {});
});
openPreview().catch((error) => say(status, describe(error), 'error'));

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
