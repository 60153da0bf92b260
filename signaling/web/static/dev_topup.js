// /me in dev mode: a dev account (//Alice … //Ferdie) adds funds from the dev chain with one
// click. The server signs the transfer to the escrow as that account's wallet would
// (POST /api/dev/topup); the balance changes when the deposit watcher credits it, as for any
// deposit, and this waits for that.

import { api, currentSession, describe, say } from './api.js';
import { formatAmount, parseAmount } from './money.js';
import { tokenInfo } from './token.js';

const CREDIT_WAIT_MS = 60_000;
const POLL_MS = 500;

async function devAddresses() {
  try {
    const { items } = await api('/api/dev/accounts');
    return new Set(items.map((account) => account.address));
  } catch {
    return new Set(); // not dev mode: the route is not even there
  }
}

async function available() {
  return BigInt((await api('/api/me/balance')).available);
}

async function waitForCredit(target) {
  const deadline = Date.now() + CREDIT_WAIT_MS;
  while (Date.now() < deadline) {
    if (await available() >= target) return true;
    await new Promise((resolve) => { setTimeout(resolve, POLL_MS); });
  }
  return false;
}

/** Show the dev top-up form on /me when the signed-in account is a dev account. */
export async function mountDevTopUp(form, status, onCredited) {
  const [addresses, token] = await Promise.all([devAddresses(), tokenInfo()]);
  const show = () => {
    form.hidden = !addresses.has(currentSession()?.user?.account_id);
  };
  window.addEventListener('vk-session', show);
  show();
  form.querySelector('[data-unit]').textContent = token.symbol;
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const button = form.querySelector('button');
    let planck;
    try {
      planck = parseAmount(form.amount.value, token);
      if (planck <= 0n) throw new Error(`Enter more than 0 ${token.symbol}.`);
    } catch (error) {
      say(status, error.message, 'error');
      return;
    }
    button.disabled = true;
    try {
      const before = await available();
      say(status, `Sending ${formatAmount(planck, token)} from the dev chain…`);
      const sent = await api('/api/dev/topup', { method: 'POST', body: { amount: planck.toString() } });
      say(status, `In block ${sent.block_number}; waiting for your balance to be credited…`);
      const credited = await waitForCredit(before + planck);
      say(status, credited ? `Added ${formatAmount(planck, token)} to your balance.`
        : 'The transfer is on chain but not credited yet: the balance updates when it is.',
      credited ? 'ok' : 'info');
      if (credited) onCredited?.();
    } catch (error) {
      say(status, `Could not top up: ${describe(error)}`, 'error');
    } finally {
      button.disabled = false;
    }
  });
}
