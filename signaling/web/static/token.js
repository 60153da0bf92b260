// The chain's token as the pages name it: symbol and decimals from /api/billing/info, once.

import { api } from './api.js';
import { FALLBACK } from './money.js';

let tokenPromise = null;

/** The chain's token {symbol, decimals, …billing info}; a fallback when there is no chain. */
export function tokenInfo() {
  tokenPromise ??= api('/api/billing/info')
    .then((info) => ({ ...info, symbol: info.token_symbol, decimals: info.token_decimals }))
    .catch(() => ({ ...FALLBACK }));
  return tokenPromise;
}
