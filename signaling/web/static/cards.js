// Cards of a live stream (home and search pages): thumbnail, title, creator, viewers, price and,
// when the page knows its name (`stream.category_name`), the category.

import { displayName } from './api.js';
import { describePrice, priceTitle } from './money.js';
import { tokenInfo } from './token.js';

/** "by <name>", linking to the creator's page (/c/<username or address>). */
function byline(creator) {
  const line = document.createElement('p');
  const ref = creator?.username || creator?.account_id;
  const name = displayName(creator);
  line.append('by ', ref ? Object.assign(document.createElement('a'), {
    href: `/c/${encodeURIComponent(ref)}`, textContent: name, className: 'creator-link',
  }) : name);
  return line;
}

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
  const creator = byline(stream.creator);
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
  const category = stream.category_name
    ? [Object.assign(document.createElement('p'), { className: 'category', textContent: stream.category_name })]
    : [];
  // In the chain's unit once known (fetched once per page, so at once after the first card).
  tokenInfo().then((token) => { price.textContent = describePrice(stream.price_per_second, token); });
  item.append(...thumbnail(stream), link, creator, viewers, price, ...category);
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
  const creator = byline(video.creator);
  const views = Object.assign(document.createElement('p'), {
    className: 'hint', textContent: video.view_count === 1 ? '1 view' : `${video.view_count ?? 0} views`,
  });
  item.append(...poster, link, creator, views);
  return item;
}
