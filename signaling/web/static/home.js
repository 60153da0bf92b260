// /: the live streams with their viewer counts (refreshed), and a form to start a stream; the
// other sections and the category filter are home_sections.js's.

import { api, currentSession, describe, say } from './api.js';
import { liveCard, liveStreamsPath, mountHomeSections } from './home_sections.js';
import { mountPriceInput } from './price_input.js';
import { tokenInfo } from './token.js';
import { mountSignIn } from './signin.js';

const REFRESH_MS = 4000;
const list = document.getElementById('streams');
const listStatus = document.getElementById('streams-status');

async function refresh() {
  try {
    const path = liveStreamsPath();
    const { items } = await api(path);
    if (path !== liveStreamsPath()) return;  // another category was picked meanwhile
    list.replaceChildren(...items.map(liveCard));
    say(listStatus, items.length ? '' : 'Nobody is live right now. Check back soon, or start your own stream.');
  } catch (error) {
    say(listStatus, `Could not load streams: ${describe(error)}`, 'error');
  } finally {
    list.setAttribute('aria-busy', 'false');
  }
}

function setUpCreateForm(token) {
  const section = document.getElementById('go-live');
  const form = document.getElementById('create-stream');
  const status = document.getElementById('create-status');
  const price = mountPriceInput({ amount: form.price, period: form.price_period,
    hint: document.getElementById('price-hint') }, token);
  const showForm = () => { section.hidden = !currentSession(); };
  window.addEventListener('vk-session', showForm);
  showForm();
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    say(status, 'Creating…');
    try {
      const me = await api('/api/me');
      if (!me.is_creator) await api('/api/me', { method: 'PATCH', body: { is_creator: true } });
      const stream = await api('/api/streams', {
        method: 'POST',
        body: { title: form.title.value.trim(), price_per_second: price() },
      });
      document.getElementById('created-key').textContent = stream.stream_key;
      document.getElementById('created-link').href = `/broadcast/${stream.id}`;
      document.getElementById('created').hidden = false;
      say(status, 'Stream created. Copy the key, then open the broadcast page.', 'ok');
    } catch (error) {
      say(status, `Could not create the stream: ${describe(error)}`, 'error');
    }
  });
}

mountSignIn(document.getElementById('signin'));
tokenInfo().then(setUpCreateForm);
mountHomeSections(refresh);
refresh();
setInterval(refresh, REFRESH_MS);
