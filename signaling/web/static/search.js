// /search?q=words: streams (live first) and videos whose title or description has every word.

import { api, describe, say } from './api.js';
import { streamCard, videoCard } from './cards.js';
import { mountSignIn } from './signin.js';

const status = document.getElementById('search-status');
const streams = document.getElementById('found-streams');
const videos = document.getElementById('found-videos');

async function run(q) {
  document.getElementById('search-q').value = q;
  if (!q.trim()) {
    say(status, 'Type a word of a title or description.');
    return;
  }
  say(status, 'Searching…');
  try {
    const found = await api(`/api/search?q=${encodeURIComponent(q)}`);
    streams.replaceChildren(...found.streams.map(streamCard));
    videos.replaceChildren(...found.videos.map(videoCard));
    streams.parentElement.hidden = !found.streams.length;
    videos.parentElement.hidden = !found.videos.length;
    const total = found.streams.length + found.videos.length;
    say(status, total ? `${total} found for “${q}”.` : `Nothing found for “${q}”. Try another word.`);
  } catch (error) {
    say(status, `Could not search: ${describe(error)}`, 'error');
  }
}

mountSignIn(document.getElementById('signin'));
run(new URLSearchParams(window.location.search).get('q') ?? '');
