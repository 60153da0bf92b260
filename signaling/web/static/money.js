// Money on the pages: amounts are planck as decimal strings (u128 does not fit a JS number),
// so every conversion is BigInt only, never floating point. People read the chain's unit
// (ROC on the dev chain, its symbol and decimals from token.js); the exact planck stays in a
// title attribute. Pure functions, no imports: tests/signaling/test_money_js.py runs them in Node.

export const TOKEN_DECIMALS = 12;
export const FALLBACK = { symbol: 'tokens', decimals: TOKEN_DECIMALS, escrow_address: null };

/** "1500000000" planck → "0.0015" (trailing zeros dropped). */
export function formatPlanck(planck, decimals = TOKEN_DECIMALS) {
  const value = BigInt(planck);
  const sign = value < 0n ? '-' : '';
  const size = value < 0n ? -value : value;
  const unit = 10n ** BigInt(decimals);
  const whole = size / unit;
  const fraction = (size % unit).toString().padStart(decimals, '0').replace(/0+$/, '');
  return `${sign}${whole}${fraction ? `.${fraction}` : ''}`;
}

/** "0.0015 ROC". */
export function formatAmount(planck, token = FALLBACK) {
  return `${formatPlanck(planck, token.decimals)} ${token.symbol}`;
}

/**
 * "0.6" (in the token's unit) → 600000000000n planck, exactly. Throws an Error with a sentence
 * for a person when the text is not a plain non-negative amount or has too many decimals.
 */
export function parseAmount(text, token = FALLBACK) {
  const match = /^\s*(\d*)(?:[.,](\d*))?\s*$/.exec(String(text));
  if (!match || (!match[1] && !match[2])) {
    throw new Error(`Enter an amount in ${token.symbol}, such as 1.5.`);
  }
  const [, whole, fraction = ''] = match;
  if (fraction.replace(/0+$/, '').length > token.decimals) {
    throw new Error(`${token.symbol} has ${token.decimals} decimals: use at most ${token.decimals} digits after the point.`);
  }
  const digits = fraction.padEnd(token.decimals, '0').slice(0, token.decimals);
  return BigInt(whole || '0') * 10n ** BigInt(token.decimals) + BigInt(digits || '0');
}

/** "0.09 ROC/min" for a price in planck per second, or "Free". */
export function describePrice(planckPerSecond, token = FALLBACK) {
  if (BigInt(planckPerSecond) === 0n) return 'Free';
  return `${formatPlanck(BigInt(planckPerSecond) * 60n, token.decimals)} ${token.symbol}/min`;
}

/** "0.09 ROC a minute" in a sentence. */
export function pricePerMinute(planckPerSecond, token = FALLBACK) {
  return `${formatAmount(BigInt(planckPerSecond) * 60n, token)} a minute`;
}

/** The exact price behind a described one, for a title attribute. */
export function priceTitle(planckPerSecond) {
  return `${planckPerSecond} planck per second`;
}

/** Whole seconds a balance pays for at a price (planck per second); null for a free stream. */
export function secondsCovered(balance, planckPerSecond) {
  const price = BigInt(planckPerSecond);
  return price === 0n ? null : Number(BigInt(balance) / price);
}

/** "about 41 min", "about 2 h 5 min", "45 s" for a number of seconds. */
export function describeDuration(seconds) {
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `about ${minutes} min`;
  const hours = Math.floor(minutes / 60);
  return `about ${hours} h${minutes % 60 ? ` ${minutes % 60} min` : ''}`;
}
