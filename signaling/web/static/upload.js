// /upload: a video goes up in chunks through the resumable uploads API (/api/uploads), each chunk
// checked by its SHA-256; an interrupted upload carries on after a reload when the same file is
// chosen again (its upload id is kept in localStorage). Then the video page shows processing.

import { api, authHeaders, checked, currentSession, describe, say } from './api.js';
import { mountSignIn } from './signin.js';
import { bytesToHex, sha256 } from './vendor/sha256.js';

const $ = (id) => document.getElementById(id);
const RESUME_KEY = 'vilokanam.uploads';
const READ_BYTES = 4 * 1024 * 1024; // hashing reads the file this much at a time
const RETRIES = 3;
const TYPES = { '.mp4': 'video/mp4', '.mov': 'video/quicktime', '.mkv': 'video/x-matroska', '.webm': 'video/webm' };

let running = false;

/** Uploads begun in this browser: file fingerprint -> {id, name, percent}. */
function resumable() {
  try { return JSON.parse(localStorage.getItem(RESUME_KEY)) ?? {}; } catch { return {}; }
}

function remember(file, entry) {
  const all = resumable();
  if (entry) all[fingerprint(file)] = entry; else delete all[fingerprint(file)];
  localStorage.setItem(RESUME_KEY, JSON.stringify(all));
}

function fingerprint(file) {
  return `${file.name}|${file.size}|${file.lastModified}`;
}

function megabytes(bytes) {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

function progress(phase, done, total) {
  const percent = total ? Math.floor((100 * done) / total) : 0;
  $('upload-progress-box').hidden = false;
  $('upload-phase').textContent = phase;
  $('upload-progress').value = percent;
  $('upload-progress-text').textContent = `${megabytes(done)} of ${megabytes(total)} (${percent}%)`;
}

async function hashFile(file) {
  const hash = sha256.create();
  for (let offset = 0; offset < file.size; offset += READ_BYTES) {
    hash.update(new Uint8Array(await file.slice(offset, offset + READ_BYTES).arrayBuffer()));
    progress('Checking the file', Math.min(offset + READ_BYTES, file.size), file.size);
  }
  return bytesToHex(hash.digest());
}

function contentType(file) {
  const dot = file.name.lastIndexOf('.');
  return file.type || TYPES[file.name.slice(dot).toLowerCase()] || 'application/octet-stream';
}

/** The upload to carry on for this file (still receiving, and mine), or a new one. */
async function uploadFor(file) {
  const saved = resumable()[fingerprint(file)];
  if (saved) {
    try {
      const upload = await api(`/api/uploads/${saved.id}`);
      if (upload.status === 'receiving') return upload;
    } catch { /* gone, expired or another account's: start again */ }
    remember(file, null);
  }
  const me = await api('/api/me');
  if (!me.is_creator) await api('/api/me', { method: 'PATCH', body: { is_creator: true } });
  const sha = await hashFile(file);
  const upload = await api('/api/uploads', {
    method: 'POST',
    body: {
      filename: file.name, size: file.size, sha256: sha, content_type: contentType(file),
      title: $('upload-title').value.trim(), description: $('upload-description').value.trim() || null,
    },
  });
  remember(file, { id: upload.id, name: file.name });
  return upload;
}

async function putChunk(file, upload, index) {
  const start = index * upload.chunk_size;
  const bytes = new Uint8Array(await file.slice(start, start + upload.chunk_size).arrayBuffer());
  const headers = {
    ...authHeaders(), 'Content-Type': 'application/octet-stream', 'X-Chunk-SHA256': bytesToHex(sha256(bytes)),
  };
  for (let attempt = 1; ; attempt += 1) {
    try {
      await checked(await fetch(`/api/uploads/${upload.id}/chunks/${index}`, { method: 'PUT', headers, body: bytes }));
      return bytes.length;
    } catch (error) {
      const retryable = !error.status || error.status >= 500;
      if (!retryable || attempt >= RETRIES) throw error;
      await new Promise((resolve) => { setTimeout(resolve, 1000 * attempt); });
    }
  }
}

async function send(file) {
  const upload = await uploadFor(file);
  let done = upload.bytes_received;
  progress(done ? 'Carrying on with the upload' : 'Uploading', done, file.size);
  for (const index of upload.missing_chunks) {
    done += await putChunk(file, upload, index);
    progress('Uploading', done, file.size);
  }
  $('upload-phase').textContent = 'Finishing…';
  const finished = await api(`/api/uploads/${upload.id}/complete`, { method: 'POST' });
  remember(file, null);
  location.assign(`/videos/${finished.video_id}`);
}

async function start(event) {
  event?.preventDefault();
  const file = $('upload-file').files[0];
  if (!file || running) return;
  running = true;
  $('upload-start').disabled = true;
  $('upload-resume').hidden = true;
  say($('upload-status'), '');
  try {
    await send(file);
  } catch (error) {
    say($('upload-status'), `The upload stopped: ${describe(error)}`, 'error');
    $('upload-resume').hidden = false;
  } finally {
    running = false;
    $('upload-start').disabled = false;
  }
}

function fileChosen() {
  const file = $('upload-file').files[0];
  if (!file) return;
  if (!$('upload-title').value) $('upload-title').value = file.name.replace(/\.[^.]+$/, '');
  const saved = resumable()[fingerprint(file)];
  say($('upload-status'), saved ? 'This file was partly uploaded: Upload carries on where it stopped.' : '');
}

function showForm() {
  const signedIn = Boolean(currentSession());
  $('upload-form').hidden = !signedIn;
  $('upload-signin').hidden = signedIn;
  const names = Object.values(resumable()).map((entry) => entry.name);
  say($('upload-resumable'), signedIn && names.length
    ? `Unfinished: ${names.join(', ')}. Choose the same file to carry on.` : '');
}

mountSignIn($('signin'));
$('upload-form').addEventListener('submit', start);
$('upload-resume').addEventListener('click', () => start());
$('upload-file').addEventListener('change', fileChosen);
window.addEventListener('vk-session', showForm);
showForm();
