// What the watch and broadcast pages show about a stream: title, creator, price, live counts.

import { api, displayName } from './api.js';
import { describePrice, priceTitle } from './money.js';
import { tokenInfo } from './token.js';

/** Load the stream and fill #title, #creator, #price; null (and a message) when it is gone. */
export async function showStream(streamId) {
  const [stream, token] = await Promise.all([api(`/api/streams/${encodeURIComponent(streamId)}`), tokenInfo()]);
  document.title = `${stream.title} · vilokanam`;
  document.getElementById('title').textContent = stream.title;
  document.getElementById('creator').textContent = displayName(stream.creator);
  showPrice(stream.price_per_second, token);
  showLive(stream.status);
  showViewers(stream.viewer_count);
  return stream;
}

/** #price in the chain's unit per minute; the exact planck per second in its title. */
export function showPrice(planckPerSecond, token) {
  const price = document.getElementById('price');
  price.textContent = describePrice(planckPerSecond, token);
  price.title = priceTitle(planckPerSecond);
}

export function showViewers(count) {
  document.getElementById('viewer-count').textContent = String(count);
}

export function showLive(status) {
  document.getElementById('live-badge').hidden = status !== 'live';
}
