// The home page's lists besides "Live now": category chips that filter the live streams and the
// recent videos, the live streams of people the signed-in viewer follows, and the newest videos.

import { api, currentSession, describe, say } from './api.js';
import { streamCard, videoCard } from './cards.js';
import { mountCategoryChips } from './categories.js';

const FOLLOWING_REFRESH_MS = 8000;
let chips = null;

/** The live streams' API path, in the picked category. */
export function liveStreamsPath() {
  return `/api/streams?status=live&limit=50${chips?.param() ?? ''}`;
}

/** A stream's card, with its category's name. */
export function liveCard(stream) {
  return streamCard({ ...stream, category_name: chips?.nameOf(stream.category_id) });
}

async function showFollowing() {
  const section = document.getElementById('following');
  if (!currentSession()) {
    section.hidden = true;
    return;
  }
  try {
    const { items } = await api('/api/me/following/live?limit=50');
    document.getElementById('following-streams').replaceChildren(...items.map(liveCard));
    section.hidden = !items.length;  // nothing to say when nobody followed is live
  } catch {
    section.hidden = true;  // e.g. the session expired: the sign-in box says so
  }
}

async function showRecentVideos() {
  const list = document.getElementById('recent-videos');
  const status = document.getElementById('recent-status');
  const path = `/api/videos?sort=newest&limit=12${chips.param()}`;
  try {
    const { items } = await api(path);
    if (path !== `/api/videos?sort=newest&limit=12${chips.param()}`) return;  // picked another
    list.replaceChildren(...items.map(videoCard));
    say(status, items.length ? '' : (chips.selected() ? 'No videos in this category yet.' : 'No videos yet.'));
  } catch (error) {
    say(status, `Could not load videos: ${describe(error)}`, 'error');
  } finally {
    list.setAttribute('aria-busy', 'false');
  }
}

/** Mount the sections; `refreshLive()` reloads "Live now" when the category changes. */
export function mountHomeSections(refreshLive) {
  const all = document.getElementById('all-videos');
  chips = mountCategoryChips(document.getElementById('categories'), (category) => {
    all.href = category ? `/videos?category=${encodeURIComponent(category)}` : '/videos';
    refreshLive();
    showRecentVideos();
    showFollowing();  // its cards show category names too
  });
  window.addEventListener('vk-session', showFollowing);
  showRecentVideos();
  showFollowing();
  setInterval(showFollowing, FOLLOWING_REFRESH_MS);
}
