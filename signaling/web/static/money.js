// Amounts are planck as decimal strings (u128 does not fit a JS number): BigInt only.

export const TOKEN_DECIMALS = 12;

/** "1500000000" planck → "0.0015" (trailing zeros dropped). */
export function formatPlanck(planck, decimals = TOKEN_DECIMALS) {
  const value = BigInt(planck);
  const unit = 10n ** BigInt(decimals);
  const whole = value / unit;
  const fraction = (value % unit).toString().padStart(decimals, '0').replace(/0+$/, '');
  return fraction ? `${whole}.${fraction}` : `${whole}`;
}

/** "1500000000 planck/s (0.0015 per second)", or "Free" for a zero price. */
export function describePrice(planck) {
  if (BigInt(planck) === 0n) return 'Free';
  return `${planck} planck/s (${formatPlanck(planck)} per second, ${formatPlanck(BigInt(planck) * 60n)} per minute)`;
}
