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

/** The controls of one video: what each button and key does, and showing the video's state. */
class Player {
  constructor(video, live) {
    this.video = video;
    this.box = video.closest('.screen');
    this.layout = video.closest('.stage') ?? this.box;
    this.soundChosen = false; // once the viewer touched the sound, the overlay stays away
    this.help = helpPanel(live);
    this.unmute = element('button', { type: 'button', className: 'unmute' }, icon('muted'), ' Click to unmute');
    this.play = controlButton('Play', 'play', () => this.togglePlay());
    this.mute = controlButton('Mute', 'sound', () => this.toggleMute(), video.muted);
    this.volume = element('input', { type: 'range', min: '0', max: '1', step: '0.05', className: 'player-volume' });
    this.volume.setAttribute('aria-label', 'Volume');
    this.theatre = controlButton('Theatre mode', 'theatre', () => this.toggleTheatre(), false);
    this.theatre.classList.add('player-theatre');
    this.fullscreen = controlButton('Fullscreen', 'fullscreen', () => this.toggleFullscreen(), false);
    this.helpButton = element('button', { type: 'button', className: 'player-button player-help-button', textContent: '?' });
    this.helpButton.setAttribute('aria-label', 'Keyboard shortcuts');
    this.helpButton.setAttribute('aria-controls', this.help.id);
    this.helpButton.setAttribute('aria-expanded', 'false');
  }

  /** Put the overlay and the help over the video and the bar under it. */
  mount(live) {
    const { video, box } = this;
    video.controls = false;
    video.removeAttribute('controls');
    const view = element('div', { className: 'player-view' });
    video.replaceWith(view);
    view.append(video, this.unmute, this.help);
    const bar = element('div', { className: 'player-bar' });
    if (!live) bar.append(seekBar(video));
    bar.append(this.play, this.mute, this.volume,
      live ? liveEdge(video) : element('span', { className: 'player-gap' }),
      this.helpButton, this.theatre, this.fullscreen);
    box.classList.add('player-box');
    box.append(bar);
  }

  listen() {
    const { video } = this;
    for (const type of ['play', 'pause', 'playing', 'emptied']) video.addEventListener(type, () => this.showPlaying());
    for (const type of ['volumechange', 'loadeddata', 'canplay', 'playing', 'seeked', 'emptied']) {
      video.addEventListener(type, () => this.showSound());
    }
    video.addEventListener('volumechange', () => { if (video.volume > 0) store(VOLUME_KEY, String(video.volume)); });
    video.addEventListener('click', () => this.togglePlay());
    video.addEventListener('dblclick', () => this.toggleFullscreen());
    this.volume.addEventListener('input', () => this.setVolume(Number(this.volume.value)));
    this.unmute.addEventListener('click', () => { this.setMuted(false); this.mute.focus(); });
    this.helpButton.addEventListener('click', () => this.toggleHelp());
    document.addEventListener('fullscreenchange', () => {
      this.fullscreen.setAttribute('aria-pressed', String(document.fullscreenElement === this.box));
    });
  }

  /** The viewer's volume and theatre choice from their last visit (never the sound: autoplay). */
  restore() {
    const saved = Number.parseFloat(stored(VOLUME_KEY) ?? '');
    if (saved > 0 && saved <= 1) this.video.volume = saved;
    this.setTheatre(stored(THEATRE_KEY) === '1');
    this.showPlaying();
    this.showSound();
  }

  showPlaying() {
    const { paused } = this.video;
    this.play.setAttribute('aria-label', paused ? 'Play' : 'Pause');
    setIcon(this.play, paused ? 'play' : 'pause');
  }

  showSound() {
    const { muted, volume, readyState } = this.video;
    this.mute.setAttribute('aria-pressed', String(muted));
    setIcon(this.mute, muted ? 'muted' : 'sound');
    this.volume.value = String(muted ? 0 : volume);
    this.unmute.hidden = this.soundChosen || !muted || readyState < 2; // nothing to hear yet
  }

  togglePlay() {
    if (this.video.paused) this.video.play().catch(() => { /* no media yet */ });
    else this.video.pause();
  }

  setMuted(muted) {
    this.soundChosen = true;
    if (!muted && this.video.volume === 0) this.video.volume = 0.5;
    this.video.muted = muted;
    this.showSound(); // now, not when volumechange arrives
  }

  toggleMute() { this.setMuted(!this.video.muted); }

  setVolume(volume) {
    this.video.volume = Math.min(1, Math.max(0, Math.round(volume * 100) / 100));
    this.setMuted(this.video.volume === 0);
  }

  /** Up or down a step from what is heard (muted counts as 0). */
  stepVolume(by) { this.setVolume((this.video.muted ? 0 : this.video.volume) + by); }

  seek(by) {
    const { video } = this;
    video.currentTime = Math.max(0, Math.min(video.duration || 0, video.currentTime + by));
  }

  toggleFullscreen() {
    if (document.fullscreenElement) document.exitFullscreen().catch(() => {});
    else if (this.box.requestFullscreen) this.box.requestFullscreen().catch(() => {});
    else this.video.webkitEnterFullscreen?.(); // iPhone Safari: only a video goes fullscreen
  }

  setTheatre(on) {
    this.layout.classList.toggle('theatre', on);
    this.theatre.setAttribute('aria-pressed', String(on));
    store(THEATRE_KEY, on ? '1' : '');
  }

  toggleTheatre() { this.setTheatre(!this.layout.classList.contains('theatre')); }

  toggleHelp(show = this.help.hidden) {
    this.help.hidden = !show;
    this.helpButton.setAttribute('aria-expanded', String(show));
  }

  /** What the shortcut table's action names do. */
  actions() {
    return {
      togglePlay: () => this.togglePlay(),
      toggleMute: () => this.toggleMute(),
      volumeUp: () => this.stepVolume(VOLUME_STEP),
      volumeDown: () => this.stepVolume(-VOLUME_STEP),
      back: () => this.seek(-SEEK_STEP_S),
      forward: () => this.seek(SEEK_STEP_S),
      toggleFullscreen: () => this.toggleFullscreen(),
      toggleTheatre: () => this.toggleTheatre(),
      toggleHelp: () => this.toggleHelp(),
      closeHelp: () => this.toggleHelp(false),
    };
  }
}

/**
 * Wrap `video` (inside its `.screen` box) with the player's controls, in place of the native
 * ones. `live`: a WebRTC stream (LIVE indicator, no seeking) rather than a VOD (seek bar, j/l).
 */
export function mountPlayer(video, { live }) {
  const player = new Player(video, live);
  player.mount(live);
  player.listen();
  player.restore();
  bindKeys(player.actions(), live);
}
