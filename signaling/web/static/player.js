// The player's own controls, on /watch (live) and /videos (VOD), in place of the native ones:
// a "Click to unmute" overlay (autoplay starts muted), play/pause, mute + volume, a LIVE
// indicator (live: no 0:00 seek bar) or a seek bar (VOD), theatre mode, fullscreen of the
// player box, and keyboard shortcuts (player_keys.js). A page calls mountPlayer once.

import { bindKeys, helpPanel } from './player_keys.js';

const VOLUME_KEY = 'vilokanam.volume';
const THEATRE_KEY = 'vilokanam.theatre';
const VOLUME_STEP = 0.1;
const SEEK_STEP_S = 5;
const SVG = 'http://www.w3.org/2000/svg';
// 24×24 icons, drawn with the text colour (no external asset, nothing inline-styled).
const ICONS = {
  play: 'M8 5v14l11-7z',
  pause: 'M6 5h4v14H6zM14 5h4v14h-4z',
  sound: 'M3 9v6h4l5 5V4L7 9H3zM14 7.5a5 5 0 0 1 0 9v-2a3 3 0 0 0 0-5z',
  muted: 'M3 9v6h4l5 5V4L7 9H3zM15 9.4l1.4-1.4 2.1 2.1 2.1-2.1L22 9.4l-2.1 2.1 2.1 2.1-1.4 1.4-2.1-2.1-2.1 2.1-1.4-1.4 2.1-2.1z',
  theatre: 'M2 6h20v12H2zM4 8v8h16V8z',
  fullscreen: 'M3 3h6v2H5v4H3zM15 3h6v6h-2V5h-4zM19 15h2v6h-6v-2h4zM3 15h2v4h4v2H3z',
};

function element(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
}

function icon(name) {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  const path = document.createElementNS(SVG, 'path');
  path.setAttribute('d', ICONS[name]);
  path.setAttribute('fill', 'currentColor');
  path.setAttribute('fill-rule', 'evenodd');
  svg.append(path);
  return svg;
}

function setIcon(button, name) {
  button.querySelector('path').setAttribute('d', ICONS[name]);
}

function controlButton(label, iconName, onClick, pressed) {
  const button = element('button', { type: 'button', className: 'player-button' }, icon(iconName));
  button.setAttribute('aria-label', label);
  if (pressed !== undefined) button.setAttribute('aria-pressed', String(pressed));
  button.addEventListener('click', onClick);
  return button;
}

/** m:ss or h:mm:ss */
function clock(seconds) {
  const s = Number.isFinite(seconds) ? Math.max(0, Math.floor(seconds)) : 0;
  const mmss = `${Math.floor((s % 3600) / 60)}:${String(s % 60).padStart(2, '0')}`;
  return s >= 3600 ? `${Math.floor(s / 3600)}:${mmss.padStart(5, '0')}` : mmss;
}

function stored(key) {
  try { return localStorage.getItem(key); } catch { return null; }
}

function store(key, value) {
  try { localStorage.setItem(key, value); } catch { /* private mode: not remembered */ }
}

/** The VOD seek bar and its clock; kept in step with the video. */
function seekBar(video) {
  const range = element('input', { type: 'range', min: '0', max: '0', step: '0.1', value: '0' });
  range.setAttribute('aria-label', 'Seek');
  const time = element('span', { className: 'player-time', textContent: '0:00 / 0:00' });
  const show = () => {
    const duration = Number.isFinite(video.duration) ? video.duration : 0;
    range.max = String(duration);
    range.value = String(video.currentTime);
    range.setAttribute('aria-valuetext', `${clock(video.currentTime)} of ${clock(duration)}`);
    time.textContent = `${clock(video.currentTime)} / ${clock(duration)}`;
  };
  range.addEventListener('input', () => { video.currentTime = Number(range.value); });
  for (const type of ['timeupdate', 'durationchange', 'seeking', 'seeked', 'emptied']) video.addEventListener(type, show);
  return element('div', { className: 'player-seek' }, range, time);
}

/** The LIVE indicator: live while playing (a paused live video resumes at the live edge). */
function liveEdge(video) {
  const badge = element('span', { className: 'live-edge', textContent: '● LIVE' });
  const show = () => {
    badge.dataset.state = video.paused ? 'paused' : 'live';
    badge.textContent = video.paused ? '● LIVE · paused' : '● LIVE';
  };
  for (const type of ['play', 'pause', 'playing', 'emptied']) video.addEventListener(type, show);
  show();
  return badge;
}

/**
 * Wrap `video` (inside its `.screen` box) with the player's controls. `live`: a WebRTC stream
 * (LIVE indicator, no seeking) rather than a VOD (seek bar, j/l). Removes the native controls.
 */
export function mountPlayer(video, { live }) {
  video.controls = false;
  video.removeAttribute('controls');
  const box = video.closest('.screen');
  const layout = video.closest('.stage') ?? box;
  const view = element('div', { className: 'player-view' });
  video.replaceWith(view);
  const unmute = element('button', { type: 'button', className: 'unmute' }, icon('muted'), ' Click to unmute');
  const help = helpPanel(live);
  view.append(video, unmute, help);
  let soundChosen = false; // once the viewer touched the sound, the overlay stays away

  const togglePlay = () => (video.paused ? video.play().catch(() => {}) : video.pause());
  const setMuted = (muted) => {
    soundChosen = true;
    if (!muted && video.volume === 0) video.volume = 0.5;
    video.muted = muted;
  };
  const setVolume = (volume) => {
    video.volume = Math.min(1, Math.max(0, Math.round(volume * 100) / 100));
    setMuted(video.volume === 0);
  };
  const toggleFullscreen = () => {
    if (document.fullscreenElement) document.exitFullscreen().catch(() => {});
    else if (box.requestFullscreen) box.requestFullscreen().catch(() => {});
    else video.webkitEnterFullscreen?.(); // iPhone Safari: only the video itself goes fullscreen
  };
  const setTheatre = (on) => {
    layout.classList.toggle('theatre', on);
    theatre.setAttribute('aria-pressed', String(on));
    store(THEATRE_KEY, on ? '1' : '');
  };
  const toggleHelp = (show = help.hidden) => {
    help.hidden = !show;
    helpButton.setAttribute('aria-expanded', String(show));
  };

  const play = controlButton('Play', 'play', togglePlay);
  const mute = controlButton('Mute', 'sound', () => setMuted(!video.muted), video.muted);
  const volume = element('input', { type: 'range', min: '0', max: '1', step: '0.05', className: 'player-volume' });
  volume.setAttribute('aria-label', 'Volume');
  volume.addEventListener('input', () => setVolume(Number(volume.value)));
  const theatre = controlButton('Theatre mode', 'theatre', () => setTheatre(!layout.classList.contains('theatre')), false);
  theatre.classList.add('player-theatre');
  const fullscreen = controlButton('Fullscreen', 'fullscreen', toggleFullscreen, false);
  const helpButton = element('button', { type: 'button', className: 'player-button player-help-button', textContent: '?' });
  helpButton.setAttribute('aria-label', 'Keyboard shortcuts');
  helpButton.setAttribute('aria-controls', help.id);
  helpButton.setAttribute('aria-expanded', 'false');
  helpButton.addEventListener('click', () => toggleHelp());

  const bar = element('div', { className: 'player-bar' });
  if (!live) bar.append(seekBar(video));
  bar.append(play, mute, volume, live ? liveEdge(video) : element('span', { className: 'player-gap' }),
    helpButton, theatre, fullscreen);
  box.classList.add('player-box');
  box.append(bar);

  const showPlaying = () => {
    play.setAttribute('aria-label', video.paused ? 'Play' : 'Pause');
    setIcon(play, video.paused ? 'play' : 'pause');
  };
  const showSound = () => {
    mute.setAttribute('aria-pressed', String(video.muted));
    setIcon(mute, video.muted ? 'muted' : 'sound');
    volume.value = String(video.muted ? 0 : video.volume);
    unmute.hidden = soundChosen || !video.muted || video.readyState < 2;
  };
  for (const type of ['play', 'pause', 'playing', 'emptied']) video.addEventListener(type, showPlaying);
  const soundEvents = ['volumechange', 'loadeddata', 'canplay', 'playing', 'seeked', 'emptied'];
  for (const type of soundEvents) video.addEventListener(type, showSound);
  unmute.addEventListener('click', () => { setMuted(false); mute.focus(); });
  video.addEventListener('click', togglePlay);
  video.addEventListener('dblclick', toggleFullscreen);
  document.addEventListener('fullscreenchange', () => {
    fullscreen.setAttribute('aria-pressed', String(document.fullscreenElement === box));
  });

  const saved = Number.parseFloat(stored(VOLUME_KEY) ?? '');
  if (saved > 0 && saved <= 1) video.volume = saved;
  video.addEventListener('volumechange', () => { if (video.volume > 0) store(VOLUME_KEY, String(video.volume)); });
  setTheatre(stored(THEATRE_KEY) === '1');
  showPlaying();
  showSound();

  const seek = (by) => { video.currentTime = Math.max(0, Math.min(video.duration || 0, video.currentTime + by)); };
  bindKeys({
    togglePlay,
    toggleMute: () => setMuted(!video.muted),
    volumeUp: () => setVolume((video.muted ? 0 : video.volume) + VOLUME_STEP),
    volumeDown: () => setVolume((video.muted ? 0 : video.volume) - VOLUME_STEP),
    back: () => seek(-SEEK_STEP_S),
    forward: () => seek(SEEK_STEP_S),
    toggleFullscreen,
    toggleTheatre: () => setTheatre(!layout.classList.contains('theatre')),
    toggleHelp: () => toggleHelp(),
    closeHelp: () => toggleHelp(false),
  }, live);
}
