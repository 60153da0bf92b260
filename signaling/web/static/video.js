// /videos/{id}: plays a VOD's MP4 renditions with a quality selector (the position is kept
// across switches), shows processing progress to the creator, and reports each playback.

import {
  ApiError, api, authHeaders, currentSession, describe, displayName, say, streamIdFromPath,
} from './api.js';
import { clearNotFound, showNotFound } from './missing.js';
import { mountPlayer } from './player.js';
import { mountSignIn } from './signin.js';

const POLL_MS = 2000;
const QUALITY_KEY = 'vilokanam.quality';
const MAX_STEP_S = 1.5; // a larger jump of currentTime is a seek, not watching

const videoId = streamIdFromPath();
const videoUrl = `/api/videos/${encodeURIComponent(videoId)}`;
const video = document.getElementById('video');
const quality = document.getElementById('quality');
const status = document.getElementById('player-status');

const playback = { id: crypto.randomUUID(), watched: 0, furthest: 0, last: null, duration: 0 };
let loaded = false;
let pollTimer = null;

function formatDuration(seconds) {
  const s = Math.max(0, Math.round(seconds ?? 0));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

function showDetails(meta) {
  document.title = `${meta.title} · vilokanam`;
  document.getElementById('title').textContent = meta.title;
  document.getElementById('creator').textContent = displayName(meta.creator);
  document.getElementById('view-count').textContent = String(meta.view_count);
  document.getElementById('views').lastChild.textContent = meta.view_count === 1 ? ' view' : ' views';
  document.getElementById('duration').textContent = meta.duration == null ? '…' : formatDuration(meta.duration);
  document.getElementById('published').textContent =
    meta.published_at ? new Date(meta.published_at).toLocaleDateString() : 'not yet';
  document.getElementById('description').textContent = meta.description ?? '';
  const hls = document.getElementById('hls-link');
  hls.href = meta.hls_url ?? '#';
  hls.parentElement.hidden = !meta.hls_url;
}

function showProcessing(job, videoStatus) {
  const box = document.getElementById('processing');
  box.hidden = videoStatus === 'ready';
  if (videoStatus === 'failed') {
    box.hidden = true;
    say(status, `Processing failed: ${job?.error ?? 'unknown reason'}`, 'error');
    return;
  }
  const percent = job?.progress ?? 0;
  document.getElementById('progress').value = percent;
  const step = job?.current_step ? ` (${job.current_step})` : '';
  document.getElementById('progress-text').textContent = `${Math.round(percent)}%${step}`;
  say(status, 'This video is being processed; only you can see it until it is ready.');
}

/** Pick the saved quality if this video has it, else the best rendition. */
function preferredIndex(renditions) {
  const saved = localStorage.getItem(QUALITY_KEY);
  const index = renditions.findIndex((r) => r.resolution === saved);
  return index >= 0 ? index : renditions.length - 1;
}

function fillQualities(renditions) {
  quality.replaceChildren(...renditions.map((r, i) => {
    const label = `${r.resolution} · ${r.bitrate_kbps} kbps`;
    return Object.assign(document.createElement('option'), { value: String(i), textContent: label });
  }));
  quality.disabled = renditions.length < 2;
}

/** Switch the source, keeping the position and whether it was playing. */
function switchTo(rendition) {
  const at = video.currentTime;
  const wasPlaying = !video.paused && !video.ended;
  playback.last = null; // the jump back to `at` is not watching time
  video.src = rendition.url;
  video.addEventListener('loadedmetadata', () => {
    video.currentTime = Math.min(at, video.duration || at);
    if (wasPlaying) start();
  }, { once: true });
  localStorage.setItem(QUALITY_KEY, rendition.resolution);
}

/** Play; browsers that refuse sound without a gesture get it muted (the controls unmute). */
async function start() {
  try {
    await video.play();
  } catch (error) {
    if (error.name !== 'NotAllowedError') throw error;
    video.muted = true;
    await video.play();
  }
}

function loadPlayer(meta) {
  if (loaded) return;
  loaded = true;
  const renditions = meta.renditions;
  if (!renditions.length) { say(status, 'This video has no playable rendition.', 'error'); return; }
  playback.duration = meta.duration ?? 0;
  if (meta.thumbnail_url) video.poster = meta.thumbnail_url;
  fillQualities(renditions);
  const index = preferredIndex(renditions);
  quality.value = String(index);
  video.src = renditions[index].url;
  quality.addEventListener('change', () => switchTo(renditions[Number(quality.value)]));
  say(status, '');
  start().catch((error) => say(status, `Could not start playback: ${describe(error)}`, 'error'));
}

async function load() {
  try {
    const meta = await api(videoUrl);
    clearNotFound();
    showDetails(meta);
    if (meta.status === 'ready') {
      document.getElementById('processing').hidden = true;
      loadPlayer(meta);
      return;
    }
    showProcessing(meta.processing, meta.status);
    if (meta.status !== 'failed') pollTimer = setTimeout(load, POLL_MS);
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) {
      showNotFound('Video', 'This video does not exist or is not available.'
        + (currentSession() ? '' : ' If it is yours and not published yet, sign in to see it.'));
      return;
    }
    document.getElementById('title').textContent = 'Video';
    say(status, describe(error), 'error');
  }
}

// -- playback reports -------------------------------------------------------------------------

function onTimeUpdate() {
  const now = video.currentTime;
  if (playback.last !== null && !video.paused) {
    const step = now - playback.last;
    if (step > 0 && step < MAX_STEP_S) playback.watched += step;
  }
  playback.last = now;
  playback.furthest = Math.max(playback.furthest, now);
}

/** Report this playback (the server keeps one row per playback id, raised by later reports). */
function report() {
  const duration = playback.duration || video.duration || 0;
  if (!loaded || playback.watched <= 0 || !duration) return;
  const body = JSON.stringify({
    view_duration: Math.min(playback.watched, duration),
    watch_completion: Math.min(100, (100 * playback.furthest) / duration),
    playback_id: playback.id,
  });
  const url = `${videoUrl}/views`;
  // A beacon carries no CSRF header (the server would refuse its session cookie): signed-in
  // viewers use a keepalive fetch instead.
  try {
    if (!currentSession() && navigator.sendBeacon(url, new Blob([body], { type: 'application/json' }))) return;
  } catch { /* fall back to fetch */ }
  fetch(url, {
    method: 'POST', keepalive: true, body,
    headers: { 'Content-Type': 'application/json', ...authHeaders() },
  }).catch(() => { /* a lost report costs one view count, nothing more */ });
}

video.addEventListener('timeupdate', onTimeUpdate);
video.addEventListener('seeking', () => { playback.last = null; });
video.addEventListener('pause', report);
video.addEventListener('ended', report);
window.addEventListener('pagehide', report);
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'hidden') report();
});
window.addEventListener('vk-session', () => {
  if (loaded) return;
  clearTimeout(pollTimer); // a creator who just signed in may see an unfinished video
  load();
});

mountPlayer(video, { live: false });
mountSignIn(document.getElementById('signin'));
load();
