// /c/{username or address}: a creator's page: picture, bio, follow, live now, videos, past
// streams; its owner edits the profile and picture here.

import { api, checked, authHeaders, currentSession, describe, displayName, say } from './api.js';
import { streamCard, videoCard } from './cards.js';
import { mountSignIn } from './signin.js';

const $ = (id) => document.getElementById(id);
const status = $('creator-status');
const AVATAR_UPLOAD_PX = 512; // the server keeps 256 px; this keeps phone photos under its 1 MiB limit

let profile = null;

function refFromPath() {
  return decodeURIComponent(location.pathname.split('/').filter(Boolean)[1] ?? '');
}

function showProfile() {
  const name = displayName(profile);
  document.title = `${name} · vilokanam`;
  $('creator-name').textContent = name;
  $('creator-account').textContent = profile.account_id;
  $('creator-bio').textContent = profile.bio ?? '';
  $('creator-followers').textContent = `${profile.followers} follower${profile.followers === 1 ? '' : 's'}`;
  $('creator-following').textContent = `following ${profile.following}`;
  const avatar = $('creator-avatar');
  avatar.hidden = !profile.profile_image_url;
  if (profile.profile_image_url) avatar.src = profile.profile_image_url;
  avatar.alt = `${name}'s picture`;
  $('creator-initial').hidden = Boolean(profile.profile_image_url);
  $('creator-initial').textContent = name.slice(0, 1).toUpperCase();
  $('profile').hidden = false;
}

function showFollow() {
  const session = currentSession();
  const mine = session?.user?.id === profile.id;
  $('follow').hidden = !session || mine;
  $('follow-hint').hidden = Boolean(session);
  $('follow').textContent = profile.followed_by_me ? 'Following ✓ (unfollow)' : 'Follow';
  $('follow').setAttribute('aria-pressed', String(Boolean(profile.followed_by_me)));
  $('edit-profile').hidden = !mine;
  if (mine) {
    $('edit-username').value = profile.username ?? '';
    $('edit-bio').value = profile.bio ?? '';
  }
}

async function fillList(id, items, card) {
  $(id).replaceChildren(...items.map(card));
  $(id).parentElement.hidden = !items.length;
}

async function loadProfile() {
  profile = await api(`/api/users/${encodeURIComponent(refFromPath())}`);
  showProfile();
  showFollow();
}

async function load() {
  try {
    await loadProfile();
  } catch (error) {
    say(status, error.status === 404 ? 'There is no such creator here.' : `Could not load this page: ${describe(error)}`,
      error.status === 404 ? 'info' : 'error');
    return;
  }
  say(status, '');
  const id = encodeURIComponent(profile.id);
  const [live, videos, past] = await Promise.all([
    api(`/api/streams?creator=${id}&status=live&limit=10`),
    api(`/api/videos?creator=${id}&limit=24`),
    api(`/api/streams?creator=${id}&status=ended&limit=12`),
  ]);
  fillList('creator-live', live.items, streamCard);
  fillList('creator-videos', videos.items, videoCard);
  fillList('creator-past', past.items, streamCard);
}

async function toggleFollow() {
  const method = profile.followed_by_me ? 'DELETE' : 'POST';
  try {
    await api(`/api/users/${profile.id}/follow`, { method });
    await loadProfile();
  } catch (error) {
    say(status, `Could not change the follow: ${describe(error)}`, 'error');
  }
}

async function saveProfile(event) {
  event.preventDefault();
  const edit = $('edit-status');
  try {
    const body = { bio: $('edit-bio').value };
    const username = $('edit-username').value.trim();
    if (username) body.username = username;
    const me = await api('/api/me', { method: 'PATCH', body });
    if (me.username) history.replaceState(null, '', `/c/${encodeURIComponent(me.username)}`);
    await loadProfile();
    say(edit, 'Profile saved.', 'ok');
  } catch (error) {
    say(edit, `Could not save: ${describe(error)}`, 'error');
  }
}

/** The picture scaled down in the browser (no more than AVATAR_UPLOAD_PX a side) as a JPEG. */
async function shrunk(file) {
  const bitmap = await createImageBitmap(file);
  const scale = Math.min(1, AVATAR_UPLOAD_PX / Math.max(bitmap.width, bitmap.height));
  const canvas = Object.assign(document.createElement('canvas'), {
    width: Math.max(1, Math.round(bitmap.width * scale)), height: Math.max(1, Math.round(bitmap.height * scale)),
  });
  canvas.getContext('2d').drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  return new Promise((resolve) => { canvas.toBlob(resolve, 'image/jpeg', 0.9); });
}

async function uploadAvatar() {
  const edit = $('edit-status');
  const file = $('avatar-file').files[0];
  if (!file) return;
  say(edit, 'Uploading your picture…');
  let blob;
  try {
    blob = await shrunk(file);
  } catch {
    say(edit, 'That file is not a picture this browser can read.', 'error');
    return;
  }
  try {
    await checked(await fetch('/api/me/avatar', {
      method: 'PUT', body: blob, headers: { ...authHeaders(), 'Content-Type': 'image/jpeg' },
    }));
    await loadProfile();
    say(edit, 'Picture saved.', 'ok');
  } catch (error) {
    say(edit, `Could not save the picture: ${describe(error)}`, 'error');
  }
}

async function removeAvatar() {
  try {
    await api('/api/me/avatar', { method: 'DELETE' });
    await loadProfile();
    say($('edit-status'), 'Picture removed.', 'ok');
  } catch (error) {
    say($('edit-status'), `Could not remove the picture: ${describe(error)}`, 'error');
  }
}

mountSignIn($('signin'));
$('follow').addEventListener('click', toggleFollow);
$('profile-form').addEventListener('submit', saveProfile);
$('avatar-file').addEventListener('change', uploadAvatar);
$('avatar-remove').addEventListener('click', removeAvatar);
window.addEventListener('vk-session', () => { if (profile) loadProfile().catch(() => {}); });
load();
