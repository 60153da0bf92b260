// /videos: every public ready video, newest or most viewed first, in a category if one is
// picked (?sort= and ?category= keep the choice in the address), a page at a time.

import { api, describe, say } from './api.js';
import { videoCard } from './cards.js';
import { mountCategoryChips } from './categories.js';
import { mountSignIn } from './signin.js';

const PAGE_SIZE = 24;
const list = document.getElementById('videos');
const status = document.getElementById('videos-status');
const more = document.getElementById('more-videos');
const sort = document.getElementById('video-sort');
const query = new URLSearchParams(window.location.search);
let cursor = null;
let shown = 0;  // which listing is on screen: a late page of an older one is dropped

function listPath() {
  const after = cursor ? `&cursor=${encodeURIComponent(cursor)}` : '';
  return `/api/videos?sort=${sort.value}&limit=${PAGE_SIZE}${chips.param()}${after}`;
}

async function load(fresh) {
  const listing = fresh ? ++shown : shown;
  if (fresh) cursor = null;
  more.disabled = true;
  try {
    const page = await api(listPath());
    if (listing !== shown) return;
    const cards = page.items.map(videoCard);
    if (fresh) list.replaceChildren(...cards);
    else list.append(...cards);
    cursor = page.next_cursor;
    more.hidden = !cursor;
    say(status, list.children.length ? '' : 'No videos here yet.');
  } catch (error) {
    say(status, `Could not load videos: ${describe(error)}`, 'error');
  } finally {
    more.disabled = false;
    list.setAttribute('aria-busy', 'false');
  }
}

function remember() {
  const next = new URLSearchParams();
  if (sort.value !== 'newest') next.set('sort', sort.value);
  if (chips.selected()) next.set('category', chips.selected());
  const search = next.toString();
  history.replaceState(null, '', search ? `/videos?${search}` : '/videos');
}

if ([...sort.options].some((o) => o.value === query.get('sort'))) sort.value = query.get('sort');
const chips = mountCategoryChips(document.getElementById('video-categories'), () => {
  remember();
  load(true);
}, query.get('category') ?? '');
sort.addEventListener('change', () => {
  remember();
  load(true);
});
more.addEventListener('click', () => load(false));
mountSignIn(document.getElementById('signin'));
