// A creator's price input: an amount in the chain's unit per minute or per hour, stored by the
// API per second in planck. A price that does not divide into whole planck per second is
// rounded down (a viewer never pays more than the creator asked) and the hint says so.

import { describePrice, formatPlanck, parseAmount } from './money.js';

const PERIODS = { 60: 'minute', 3600: 'hour' };
const SHORT = { 60: 'min', 3600: 'h' };

/**
 * The price per second, in planck, for `text` per `seconds` (60 or 3600): { planck, note }.
 * Throws an Error with a sentence for a person when the amount cannot be a price.
 */
export function pricePerSecond(text, seconds, token) {
  const total = parseAmount(text, token);
  const period = BigInt(seconds);
  const planck = total / period;
  const asked = `${formatPlanck(total, token.decimals)} ${token.symbol}/${SHORT[seconds]}`;
  if (total === 0n) return { planck: 0n, note: 'Free: viewers watch without paying.' };
  if (planck === 0n) {
    throw new Error(`${asked} is less than the smallest price, 1 planck per second `
      + `(${describePrice(1, token)}).`);
  }
  const perSecond = `${formatPlanck(planck, token.decimals)} ${token.symbol}/s`;
  if (total % period === 0n) return { planck, note: `${asked} = ${perSecond}; shown as ${describePrice(planck, token)}.` };
  return {
    planck,
    note: `${asked} is not a whole number of planck per second: charged as ${perSecond}`
      + ` (rounded down), shown as ${describePrice(planck, token)}.`,
  };
}

/**
 * Wire an amount input, a per-minute/per-hour select and a hint (aria-live) together.
 * Returns a function giving the price in planck per second as a string, or throwing.
 */
export function mountPriceInput({ amount, period, hint }, token) {
  for (const option of period.options) {
    option.textContent = `${token.symbol} per ${PERIODS[option.value]}`;
  }
  const current = () => pricePerSecond(amount.value, Number(period.value), token);
  const update = () => {
    try {
      hint.textContent = current().note;
      hint.dataset.tone = 'info';
      amount.setCustomValidity('');
    } catch (error) {
      hint.textContent = error.message;
      hint.dataset.tone = 'error';
      amount.setCustomValidity(error.message);
    }
  };
  amount.addEventListener('input', update);
  period.addEventListener('change', update);
  update();
  return () => current().planck.toString();
}
