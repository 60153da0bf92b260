// /me: a viewer's balance, how to top it up, deposits, spending per stream, tips sent and
// withdrawals.

import { api, currentSession, describe, displayName, say, shortAddress } from './api.js';
import { mountDevTopUp } from './dev_topup.js';
import { mountSignIn } from './signin.js';
import { formatAmount, parseAmount } from './money.js';
import { el, money, PagedTable, payoutCells, tokenInfo, when } from './tables.js';

const REFRESH_MS = 5000;
const $ = (id) => document.getElementById(id);
const status = $('me-status');

let token = { symbol: 'tokens', decimals: 12, escrow_address: null };
let timer = null;

const spending = new PagedTable('/api/me/spending', $('spending-body'), $('spending-more'),
  (s) => [
    el('a', { href: `/watch/${s.stream.id}`, textContent: s.stream.title }),
    displayName(s.stream.creator),
    String(s.seconds),
    money(s.amount, token),
    when(s.last_paid_at),
  ], 'Nothing spent yet.');

const tips = new PagedTable('/api/me/tips', $('tips-body'), $('tips-more'),
  (t) => [
    t.stream ? el('a', { href: `/watch/${t.stream.id}`, textContent: t.stream.title })
      : el('a', { href: `/videos/${t.video.id}`, textContent: t.video.title }),
    displayName(t.creator),
    money(t.amount, token),
    t.message,
    when(t.created_at),
  ], 'No tips sent yet.');

const deposits = new PagedTable('/api/me/deposits', $('deposits-body'), $('deposits-more'),
  (d) => [when(d.created_at), money(d.amount, token), String(d.block_number),
    el('span', { textContent: shortAddress(d.from), title: d.from })],
  'No deposits yet.');

const withdrawals = new PagedTable('/api/me/withdrawals', $('withdrawals-body'), $('withdrawals-more'),
  (w) => payoutCells(w, token), 'No withdrawals yet.');

function showTopUp() {
  if (!token.escrow_address) {
    $('topup').replaceChildren(el('p', { className: 'hint',
      textContent: 'This server is not connected to a chain, so deposits are not possible here.' }));
    return;
  }
  $('escrow-address').textContent = token.escrow_address;
  const minimum = BigInt(token.existential_deposit ?? 0);
  $('topup-hint').textContent = `Send at least ${formatAmount(minimum, token)} on the chain at ${token.chain_url ?? 'this server'}`
    + ` (SS58 format ${token.ss58_format}). Watching a paid stream needs ${token.min_balance_seconds}`
    + ' seconds of its price in your balance.';
}

async function refresh() {
  if (document.hidden) return;
  try {
    const balance = await api('/api/me/balance');
    $('balance-available').replaceChildren(money(balance.available, token));
    $('balance-reserved').replaceChildren(money(balance.reserved, token));
    await Promise.all([spending.reload(), tips.reload(), deposits.reload(), withdrawals.reload()]);
  } catch (error) {
    say(status, `Could not load your account: ${describe(error)}`, 'error');
  }
}

function start() {
  clearInterval(timer);
  const signedIn = Boolean(currentSession());
  $('account').hidden = !signedIn;
  say(status, signedIn ? '' : 'Sign in to see your balance and spending.');
  if (!signedIn) return;
  showTopUp();
  refresh();
  timer = setInterval(refresh, REFRESH_MS);
}

// A withdrawal in two steps: the quote shows the fee (paid from the balance), then the viewer
// confirms that quote; the server refuses (409) if the fee rose since, and we quote again.
let quote = null;

function showQuote(next) {
  // One Idempotency-Key per confirmed quote: a double click or a retry withdraws once.
  quote = next && { ...next, key: crypto.randomUUID() };
  $('withdraw-quote').hidden = !quote;
  if (!quote) return;
  $('quote-amount').replaceChildren(money(quote.amount, token));
  $('quote-to').textContent = shortAddress(quote.to);
  $('quote-to').title = quote.to;
  $('quote-fee').replaceChildren(money(quote.fee, token));
  $('quote-total').replaceChildren(money(quote.total, token));
  // The fee is the same whatever the amount: say so when it eats a visible part of a small one.
  const permille = (BigInt(quote.fee) * 1000n) / BigInt(quote.amount);
  $('quote-share').textContent = permille >= 10n
    ? ` (the fee is ${Number(permille) / 10} % of the amount: larger withdrawals pay a smaller share)` : '';
}

async function review(amount) {
  showQuote(await api(`/api/me/withdraw/quote?amount=${encodeURIComponent(amount)}`));
  const short = BigInt(quote.total) > BigInt(quote.available);
  $('withdraw-confirm').disabled = short;
  say($('withdraw-status'), short ? 'Your balance does not cover the amount and its fee.' : '',
    short ? 'error' : 'info');
}

$('withdraw').addEventListener('submit', async (event) => {
  event.preventDefault();
  try {
    await review(parseAmount(event.target.amount.value, token).toString()); // ROC → exact planck
  } catch (error) {
    showQuote(null);
    say($('withdraw-status'), `Could not withdraw: ${describe(error)}`, 'error');
  }
});
$('withdraw-amount').addEventListener('input', () => showQuote(null));
$('withdraw-cancel').addEventListener('click', () => showQuote(null));
$('withdraw-confirm').addEventListener('click', async () => {
  const out = $('withdraw-status');
  try {
    const sent = await api('/api/me/withdraw', { method: 'POST',
      body: { amount: quote.amount, fee: quote.fee }, headers: { 'Idempotency-Key': quote.key } });
    say(out, `Withdrawal of ${formatAmount(sent.amount, token)} (fee ${formatAmount(sent.fee, token)}) to ${shortAddress(sent.to)}`
      + ' is on its way.', 'ok');
    showQuote(null);
    $('withdraw').reset();
    refresh();
  } catch (error) {
    if (error.code === 'fee_changed') {
      await review(quote.amount).catch(() => showQuote(null));
      say(out, 'The fee changed since you reviewed it: check the new fee and confirm again.', 'error');
      return;
    }
    say(out, `Could not withdraw: ${describe(error)}`, 'error');
  }
});
window.addEventListener('vk-session', start);

mountSignIn($('signin'));
mountDevTopUp($('dev-topup'), $('dev-topup-status'), refresh);
tokenInfo().then((info) => {
  token = info;
  $('withdraw-unit').textContent = token.symbol;
}).finally(start);
