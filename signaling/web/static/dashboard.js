// /dashboard: a creator's earnings now (pushed every second over /ws/creator while a stream is
// live), where the money is, charts over time, streams, videos (a failed one says why), payouts
// and a CSV export of payments.
//
// "The last second" is the difference between two samples (about a second apart) of cumulative
// counters: whole charged seconds, never an estimate. The server works it out for the socket; the
// page diffs two answers of GET /api/creator/live itself for the first paint and while the socket
// is down (then it polls every second). The server's clock between the two samples is shown next
// to it, so a late sample does not pass for a jump in earnings.

import { api, authHeaders, checked, currentSession, describe, say } from './api.js';
import { barChart } from './charts.js';
import { connectEarnings } from './events.js';
import { mountPriceEditor } from './price_editor.js';
import { mountSignIn } from './signin.js';
import { el, money, PagedTable, payoutCells, tokenInfo, when } from './tables.js';

const LIVE_MS = 1000;
const LISTS_MS = 5000;
const CHARTS_MS = 15000;

const $ = (id) => document.getElementById(id);
const status = $('board-status');
const board = $('board');
const becomeCreator = $('become-creator');

let token = { symbol: 'tokens', decimals: 12 };
let timers = [];
let previous = null;   // the last figures shown (an /api/creator/live answer or a pushed message)
let feed = null;       // the /ws/creator connection
let pushed = false;    // the socket is delivering: no need to poll
let openedTotal = null; // all-time earnings when the page started following them
let lastSplit = '';

const streams = new PagedTable('/api/creator/streams', $('streams-body'), $('streams-more'),
  (s) => [
    el('a', { href: `/broadcast/${s.id}`, textContent: s.title }),
    s.status === 'live' ? el('span', { className: 'badge', textContent: 'LIVE' }) : STREAM_WORDS[s.status] ?? s.status,
    String(s.viewer_peak),
    String(s.total_ticks),
    money(s.earnings, token),
    s.recording_url ? el('a', { href: s.recording_url, textContent: 'Recording' }) : '—',
  ], 'No streams yet. Create one on the home page.');

// A stream's status in words (a recorded stream is 'archived' once its video is made).
const STREAM_WORDS = { pending: 'not live yet', ended: 'ended', archived: 'ended' };

// A video's state in words; a failed one says why (the reason is written for the creator).
function videoState(v) {
  const job = v.processing;
  if (v.status === 'failed') {
    return el('span', { className: 'pill pill-failed',
      textContent: `processing failed: ${job?.error ?? 'unknown reason'}` });
  }
  if (v.status === 'processing') {
    const retry = job?.error ? ` (retrying after: ${job.error})` : '';
    return `processing ${Math.round(job?.progress ?? 0)}%${retry}`;
  }
  return v.status;
}

const videos = new PagedTable('/api/creator/videos', $('videos-body'), $('videos-more'),
  (v) => [
    el('a', { href: v.page_url, textContent: v.title }),
    videoState(v),
    v.duration == null ? '—' : `${v.duration} s`,
    String(v.view_count),
    when(v.created_at),
  ], 'No videos yet: every stream you broadcast is recorded and becomes one.');

const payouts = new PagedTable('/api/creator/payouts', $('payouts-body'), $('payouts-more'),
  (p) => payoutCells(p, token), 'No payouts yet: settled earnings are paid out automatically.');

function stop() {
  timers.forEach(clearInterval);
  timers = [];
  feed?.close();
  feed = null;
  pushed = false;
  previous = null;
  openedTotal = null;
}

function every(ms, task) {
  const run = () => { if (!document.hidden) task(); };
  timers.push(setInterval(run, ms));
  run();
}

// `listsFresh`: the caller has just reloaded the lists (do not reload them again).
function showSplit(earnings, listsFresh = false) {
  for (const dd of document.querySelectorAll('#split dd')) {
    dd.replaceChildren(money(earnings[dd.dataset.key], token));
  }
  $('earnings-total').replaceChildren(money(earnings.total, token));
  // Money moved between stages (settled, paid): the lists show it now, not at the next refresh.
  const key = [earnings.settled, earnings.sending, earnings.in_block, earnings.finalized].join();
  if (key !== lastSplit) {
    lastSplit = key;
    if (!listsFresh) refreshLists();
    drawCharts();
  }
}

// "The last second" of a polled answer: the difference from the previous figures.
function sincePrevious(now) {
  if (!previous) return null;
  const before = new Map(previous.streams.map((s) => [s.id, BigInt(s.ticks)]));
  return {
    ms: now.at_ms - previous.at_ms,
    seconds: now.streams.reduce(
      (sum, s) => sum + (before.has(s.id) ? BigInt(s.ticks) - before.get(s.id) : 0n), 0n),
    earned: BigInt(now.earnings.total) - BigInt(previous.earnings.total),
  };
}

// "The last second" of a pushed message: the server's own (null until it has two samples).
function pushedSecond(message) {
  if (message.seconds_this_second === null) return null;
  return { ms: message.interval_ms, seconds: BigInt(message.seconds_this_second),
    earned: BigInt(message.earned_this_second) };
}

function showLive(now, source) {
  if (previous && now.at_ms < previous.at_ms) return; // a slow poll overtaken by a push
  showSplit(now.earnings);
  const total = BigInt(now.earnings.total);
  openedTotal ??= total;
  $('earned-since-open').replaceChildren(money((total - openedTotal).toString(), token));
  const last = source === 'socket' ? pushedSecond(now) : sincePrevious(now);
  if (last) {
    $('earned-last-second').replaceChildren(money(last.earned.toString(), token));
    $('seconds-last-second').textContent = last.seconds.toString();
    $('poll-interval').textContent = `over the last ${(last.ms / 1000).toFixed(1)} s`
      + (source === 'socket' ? ' · live' : ' · refreshed');
  }
  board.dataset.liveSource = source;
  previous = now;
  $('live-streams').replaceChildren(...(now.streams.length
    ? now.streams.map((s) => el('li', {}, el('span', { className: 'badge', textContent: 'LIVE' }), ' ',
      el('a', { href: `/broadcast/${s.id}`, textContent: s.title }),
      ` · ${s.viewers} watching · ${s.ticks} seconds watched`))
    : [el('li', { className: 'hint', textContent: 'None of your streams is live.' })]));
}

async function pollLive() {
  if (pushed) return;
  try {
    showLive(await api('/api/creator/live'), 'poll');
  } catch (error) {
    say(status, `Live figures paused: ${describe(error)}`, 'error');
  }
}

function followLive() {
  feed = connectEarnings({
    onMessage(message) {
      if (message.type === 'earnings') {
        pushed = true;
        showLive(message, 'socket');
      } else if (message.type === 'error') {
        say(status, `Live figures: ${message.message}`, 'error');
      }
    },
    onState(state) {
      if (state !== 'open') pushed = false; // polling takes over until the socket is back
    },
  });
}

/** The failed videos of the list, each with why and a button to process it again. */
function showFailed(items) {
  const failed = items.filter((v) => v.status === 'failed');
  $('failed-videos').hidden = !failed.length;
  $('failed-list').replaceChildren(...failed.map((v) => {
    const retry = el('button', { type: 'button', textContent: 'Retry' });
    retry.setAttribute('aria-label', `Retry processing ${v.title}`);
    retry.addEventListener('click', () => retryVideo(v, retry));
    return el('li', {}, el('a', { href: v.page_url, textContent: v.title }), ': ',
      v.processing?.error ?? 'processing failed', ' ', retry);
  }));
}

async function retryVideo(video, button) {
  const out = $('retry-status');
  button.disabled = true;
  try {
    await api(`/api/videos/${video.id}/retry`, { method: 'POST' });
    say(out, `“${video.title}” is queued for processing again.`, 'ok');
    await refreshLists();
  } catch (error) {
    button.disabled = false;
    say(out, `Could not retry “${video.title}”: ${describe(error)}`, 'error');
  }
}

async function refreshLists() {
  try {
    const [summary, items] = await Promise.all([api('/api/creator/summary'), streams.reload(),
      payouts.reload(), videos.reload()]);
    showFailed(videos.items);
    showSplit(summary.earnings, true); // money moves after a stream ends too
    showPayoutFees(summary.payout_fees);
    const t = summary.totals;
    const count = (n, word) => `${n} ${word}${n === 1 ? '' : 's'}`;
    $('totals').textContent = `${count(t.streams, 'stream')} · ${count(t.videos, 'video')}`
      + ` · ${count(t.video_views, 'video view')}`
      + ` · last activity ${t.last_activity ? new Date(t.last_activity).toLocaleString() : 'never'}`;
    const kinds = summary.settled_by_kind;
    $('earned-by-kind').replaceChildren('Settled from viewing: ', money(kinds.viewing.earned, token),
      ` · from ${count(kinds.tips.payments, 'tip')}: `, el('span', { id: 'tips-earned' }, money(kinds.tips.earned, token)));
    fillStreamChoice(items);
  } catch (error) {
    say(status, `Could not refresh: ${describe(error)}`, 'error');
  }
}

function duration(seconds) {
  if (seconds >= 3600) return `${+(seconds / 3600).toFixed(1)} h`;
  if (seconds >= 60) return `${+(seconds / 60).toFixed(1)} min`;
  return `${seconds} s`;
}

/** Fees of the creator's payouts (the platform pays them) and the rule that keeps them small. */
function showPayoutFees(fees) {
  const out = $('payout-fees');
  const parts = [];
  if (fees.payouts > 0) {
    parts.push('Transaction fees of your payouts (paid by the platform): ',
      money(fees.fees, token), ` over ${fees.payouts} payout${fees.payouts === 1 ? '' : 's'}, `,
      money(fees.fee_per_payout, token), ' per payout, ',
      el('span', { id: 'payout-fee-ratio', textContent: `${(fees.fee_bps / 100).toFixed(2)} %` }),
      ' of what was paid. ');
  }
  if (fees.min_amount != null) {
    parts.push('You are paid once at least ', money(fees.min_amount, token),
      ` is due, at most every ${duration(fees.min_interval_s)}, so fees stay small.`);
  }
  out.replaceChildren(...parts);
}

function fillStreamChoice(items) {
  const select = $('viewers-stream');
  const known = new Set([...select.options].map((o) => o.value));
  for (const s of items) {
    if (!known.has(s.id)) select.append(el('option', { value: s.id, textContent: s.title }));
  }
}

async function drawCharts() {
  const range = document.querySelector('input[name="range"]:checked').value;
  const stream = $('viewers-stream').value;
  try {
    const [earnings, viewers] = await Promise.all([
      api(`/api/creator/earnings?range=${range}`),
      api(`/api/creator/viewers?range=${range}${stream ? `&stream_id=${stream}` : ''}`),
    ]);
    barChart($('earnings-chart'), earnings.points, {
      label: 'Settled earnings', bucketSeconds: earnings.bucket_s,
      format: (v) => money(String(v), token).textContent,
    });
    barChart($('viewers-chart'), viewers.points, {
      label: 'Viewers', bucketSeconds: viewers.bucket_s, format: (v) => `${v} viewer${Number(v) === 1 ? '' : 's'}`,
    });
  } catch (error) {
    say(status, `Could not draw the charts: ${describe(error)}`, 'error');
  }
}

async function exportCsv() {
  const exportStatus = $('export-status');
  say(exportStatus, 'Preparing the CSV…');
  try {
    const response = await checked(await fetch('/api/creator/payments.csv', { headers: authHeaders() }));
    const url = URL.createObjectURL(await response.blob());
    const link = el('a', { href: url, download: 'payments.csv' });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
    say(exportStatus, 'Downloaded payments.csv.', 'ok');
  } catch (error) {
    say(exportStatus, `Could not export: ${describe(error)}`, 'error');
  }
}

async function start() {
  stop();
  board.hidden = true;
  becomeCreator.hidden = true;
  if (!currentSession()) {
    say(status, 'Sign in as a creator to see your earnings.');
    return;
  }
  try {
    await api('/api/creator/summary');
  } catch (error) {
    const notCreator = error.status === 403;
    say(status, notCreator ? 'This account is not a creator yet.' : describe(error), notCreator ? 'info' : 'error');
    becomeCreator.hidden = !notCreator;
    return;
  }
  say(status, '');
  board.hidden = false;
  loadPriceEditor?.();
  every(LIVE_MS, pollLive); // the first paint, then only while the socket is not delivering
  followLive();
  every(LISTS_MS, refreshLists);
  every(CHARTS_MS, drawCharts);
}

becomeCreator.addEventListener('click', async () => {
  try {
    await api('/api/me', { method: 'PATCH', body: { is_creator: true } });
    start();
  } catch (error) {
    say(status, describe(error), 'error');
  }
});
for (const input of document.querySelectorAll('input[name="range"]')) input.addEventListener('change', drawCharts);
$('viewers-stream').addEventListener('change', drawCharts);
$('export-csv').addEventListener('click', exportCsv);
window.addEventListener('vk-session', start);

mountSignIn($('signin'));
let loadPriceEditor = null;
tokenInfo().then((info) => {
  token = info;
  loadPriceEditor = mountPriceEditor(token);
}).finally(start);
