// What the watch and broadcast pages show about a stream: title, creator, price, live counts.

import { api, displayName } from './api.js';
import { describePrice } from './money.js';

/** Load the stream and fill #title, #creator, #price; null (and a message) when it is gone. */
export async function showStream(streamId) {
  const stream = await api(`/api/streams/${encodeURIComponent(streamId)}`);
  document.title = `${stream.title} · vilokanam`;
  document.getElementById('title').textContent = stream.title;
  document.getElementById('creator').textContent = displayName(stream.creator);
  document.getElementById('price').textContent = describePrice(stream.price_per_second);
  showLive(stream.status);
  showViewers(stream.viewer_count);
  return stream;
}

export function showViewers(count) {
  document.getElementById('viewer-count').textContent = String(count);
}

export function showLive(status) {
  document.getElementById('live-badge').hidden = status !== 'live';
}
