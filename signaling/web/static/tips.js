// The Tip button of the watch and video pages: an amount in the chain's unit and an optional
// message, sent with an Idempotency-Key so a retry after a lost answer never pays twice. A tip
// to a live stream then shows, highlighted, in everyone's chat (chat.js).

import { ApiError, api, currentSession, describe, say, streamIdFromPath } from './api.js';
import { TOKEN_DECIMALS, formatPlanck } from './money.js';

const open = document.getElementById('tip-open');
const form = document.getElementById('tip-form');
const amountInput = document.getElementById('tip-amount');
const messageInput = document.getElementById('tip-message');
const status = document.getElementById('tip-status');
const sendButton = form.querySelector('button[type="submit"]');

// One key per tip the viewer means to send: kept while they retry it, new once it is paid or
// they change what they send.
let pending = null; // { key, body }
// /watch/{stream id} or /videos/{video id}: what the tip is for.
const kind = location.pathname.startsWith('/videos/') ? 'videos' : 'streams';
const tipsUrl = `/api/${kind}/${encodeURIComponent(streamIdFromPath())}/tips`;

/** "0.5" in the chain's unit → planck as a decimal string; null when not an amount. */
function toPlanck(text, decimals = TOKEN_DECIMALS) {
  const match = /^(\d+)(?:\.(\d+))?$/.exec(text.trim());
  if (!match || (match[2] ?? '').length > decimals) return null;
  const planck = BigInt(match[1]) * 10n ** BigInt(decimals) + BigInt((match[2] ?? '').padEnd(decimals, '0') || 0);
  return planck > 0n ? planck.toString() : null;
}

function updateButton() {
  const signedIn = Boolean(currentSession());
  open.disabled = !signedIn;
  open.title = signedIn ? '' : 'Sign in to tip';
  if (!signedIn) { form.hidden = true; open.setAttribute('aria-expanded', 'false'); }
}

open.addEventListener('click', () => {
  form.hidden = !form.hidden;
  open.setAttribute('aria-expanded', String(!form.hidden));
  if (!form.hidden) amountInput.focus();
});

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  const amount = toPlanck(amountInput.value);
  if (amount === null) { say(status, 'Enter an amount above zero, e.g. 0.5.', 'error'); return; }
  const body = { amount, message: messageInput.value.trim() };
  if (!pending || JSON.stringify(pending.body) !== JSON.stringify(body)) {
    pending = { key: crypto.randomUUID(), body };
  }
  sendButton.disabled = true;
  say(status, 'Sending your tip…');
  try {
    const tip = await api(tipsUrl, {
      method: 'POST', body, headers: { 'Idempotency-Key': pending.key },
    });
    pending = null;
    amountInput.value = '';
    messageInput.value = '';
    say(status, `Thank you! You tipped ${formatPlanck(tip.amount)}; the creator gets ${formatPlanck(tip.creator_amount)}.`, 'ok');
  } catch (error) {
    // A refusal is final for its key (a retry would be answered the same): the next is new.
    if (error instanceof ApiError && error.status !== 409 && error.status < 500) pending = null;
    say(status, `Your tip was not sent: ${describe(error)}`, 'error');
  } finally {
    sendButton.disabled = false;
  }
});

window.addEventListener('vk-session', updateButton);
updateButton();
