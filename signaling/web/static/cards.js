// Cards of a live stream (home and search pages): thumbnail, title, creator, viewers, price.

import { displayName } from './api.js';
import { describePrice, priceTitle } from './money.js';
import { tokenInfo } from './token.js';

/** The live thumbnail the recorder refreshes about every 30 s (none before the first one). */
function thumbnail(stream) {
  if (!stream.thumbnail_url) return [];
  return [Object.assign(document.createElement('img'), {
    src: stream.thumbnail_url, alt: `Now on ${stream.title}`, className: 'thumb', width: 320, height: 180,
  })];
}

export function streamCard(stream) {
  const item = document.createElement('li');
  item.className = 'card';
  const link = Object.assign(document.createElement('a'), {
    href: `/watch/${stream.id}`, textContent: stream.title, className: 'card-title',
  });
  const creator = Object.assign(document.createElement('p'), { textContent: `by ${displayName(stream.creator)}` });
  const viewers = Object.assign(document.createElement('p'), { className: 'viewers' });
  if (stream.status === 'live') {
    viewers.append(Object.assign(document.createElement('span'), { className: 'badge', textContent: 'LIVE' }),
      ` ${stream.viewer_count} watching`);
  } else {
    viewers.textContent = stream.status === 'pending' ? 'Not live yet' : 'Ended';
  }
  const price = Object.assign(document.createElement('p'), {
    className: 'hint', title: priceTitle(stream.price_per_second),
  });
  // In the chain's unit once known (fetched once per page, so at once after the first card).
  tokenInfo().then((token) => { price.textContent = describePrice(stream.price_per_second, token); });
  item.append(...thumbnail(stream), link, creator, viewers, price);
  return item;
}

export function videoCard(video) {
  const item = document.createElement('li');
  item.className = 'card';
  const poster = video.thumbnail_url
    ? [Object.assign(document.createElement('img'), {
      src: video.thumbnail_url, alt: '', className: 'thumb', width: 320, height: 180,
    })]
    : [];
  const link = Object.assign(document.createElement('a'), {
    href: `/videos/${video.id}`, textContent: video.title, className: 'card-title',
  });
  const creator = Object.assign(document.createElement('p'), { textContent: `by ${displayName(video.creator)}` });
  item.append(...poster, link, creator);
  return item;
}
