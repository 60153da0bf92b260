// The viewer's money on /watch/{id}: the price confirm before a paid stream plays, what a
// minute costs and how long the balance lasts, the low-balance warning before the cut, and
// words for a refusal (402) a person can act on. Amounts in the chain's unit, BigInt only.

import { api, currentSession } from './api.js';
import {
  describeDuration, describePrice, formatAmount, pricePerMinute, secondsCovered,
} from './money.js';
import { showPrice } from './stream_info.js';
import { tokenInfo } from './token.js';

export const LOW_BALANCE_S = 60; // warn this long before the balance runs out
const ADD_FUNDS = '/me#add-funds';
const $ = (id) => document.getElementById(id);

let token = { symbol: 'tokens', decimals: 12 };
let balance = null; // planck, as the server last told us; null when unknown (signed out)
let price = null; // the stream's price, planck per second, as a decimal string
let ranOut = false; // this page saw the balance pay for seconds or run out: a later 402 says so
let cut = false; // cut for money: the last second's update, arriving after, changes nothing shown

export async function loadToken() {
  token = await tokenInfo();
  return token;
}

/** Text, then an "Add funds" link opening /me in a new tab (playback goes on here). */
export function sayWithFunds(element, text, tone = 'error', linkText = 'Add funds') {
  const link = Object.assign(document.createElement('a'), {
    href: ADD_FUNDS, target: '_blank', rel: 'noopener', textContent: linkText,
  });
  element.replaceChildren(`${text} `, link);
  element.dataset.tone = tone;
  element.hidden = false;
}

/** The stream's price is (now) `planck` per second: #price and the cost line follow. */
export function setPrice(planck) {
  price = String(planck);
  showPrice(price, token);
  showCost();
}

export const isFree = () => price !== null && BigInt(price) === 0n;

/** "Sign in to watch; this stream costs 0.6 ROC a minute." */
export function signInText() {
  return price === null || isFree() ? 'Sign in to watch this stream.'
    : `Sign in to watch; this stream costs ${pricePerMinute(price, token)}.`;
}

/** Ask before a paid stream plays (or after its price changed); `onAccept(price)` on the click. */
export function askPrice(changed, onAccept) {
  const dialog = $('price-change');
  $('price-change-text').textContent = changed
    ? `The price of this stream changed to ${pricePerMinute(price, token)}. Watch at this price?`
    : `This stream costs ${pricePerMinute(price, token)}, paid per second while you watch.`;
  const button = $('accept-price');
  button.textContent = `Watch for ${describePrice(price, token)}`;
  const agreed = price;
  button.onclick = () => { dialog.hidden = true; onAccept(agreed); };
  dialog.hidden = false;
}

export function hidePrice() {
  $('price-change').hidden = true;
}

/** The viewer's balance from the API (signed in), for the cost line. */
export async function loadBalance() {
  if (!currentSession()) {
    balance = null;
  } else {
    try {
      balance = (await api('/api/me/balance')).available;
    } catch {
      balance = null; // no billing here (or signed out meanwhile): no cost line
    }
  }
  showCost();
  return balance;
}

/** "0.6 ROC/min · your balance lasts about 41 min" under the player, for a paid stream. */
function showCost() {
  const cost = $('cost');
  if (price === null || isFree() || balance === null) {
    cost.hidden = true;
    return;
  }
  const seconds = secondsCovered(balance, price);
  if (seconds === 0) {
    sayWithFunds(cost, `${describePrice(price, token)} · your balance is empty:`, 'info', 'add funds');
  } else {
    cost.textContent = `${describePrice(price, token)} · your balance lasts ${describeDuration(seconds)}`;
    cost.hidden = false;
  }
  cost.title = `balance ${balance} planck`;
}

/** A second was charged (/ws "balance"): the balance line, and a warning before the cut. */
export function onBalance(message) {
  ranOut = true;
  if (cut) return;
  balance = message.balance;
  const line = $('balance');
  line.hidden = false;
  line.textContent = `Watched ${message.seconds_watched} s · balance ${formatAmount(message.balance, token)}`;
  line.title = `${message.balance} planck`;
  showCost();
  const left = secondsCovered(message.balance, message.price ?? price);
  const warning = $('low-balance');
  if (left === null || left >= LOW_BALANCE_S) {
    warning.hidden = true;
  } else {
    sayWithFunds(warning, `Your balance runs out in about ${left} s.`, 'error', 'Add funds to keep watching');
  }
}

/** Cut for money: the reason instead of the warning and of figures its last second made stale. */
export function onCut(status) {
  ranOut = true;
  cut = true;
  for (const id of ['low-balance', 'cost', 'balance']) $(id).hidden = true;
  sayWithFunds(status, 'Your balance ran out.', 'error', 'Add funds to keep watching');
}

/** A 402: why this viewer may not start, in words for a person. */
export async function explainRefusal(status) {
  $('low-balance').hidden = true;
  if (ranOut) {
    sayWithFunds(status, 'Your balance ran out.', 'error', 'Add funds to keep watching');
    return;
  }
  const available = await loadBalance();
  const needed = token.min_balance_seconds;
  if (available === null || BigInt(available) === 0n) {
    sayWithFunds(status, `Add funds to watch: this stream costs ${pricePerMinute(price, token)}.`);
  } else {
    sayWithFunds(status, `Add funds to watch: your balance, ${formatAmount(available, token)}, is less than`
      + ` this stream needs to start${needed ? ` (${needed} s of it, ${formatAmount(BigInt(price) * BigInt(needed), token)})` : ''}.`);
  }
}
