// Shared pieces of the account pages (/dashboard, /me): element building, money and time
// formatting, paginated tables that follow the API's cursors, and the payout columns.

import { api } from './api.js';
import { formatAmount } from './money.js';

export { tokenInfo } from './token.js'; // the pages of this module's tables import it from here

const PAGE = 20;
const MAX_PAGE = 100;

export function el(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children.filter((child) => child !== null && child !== undefined));
  return node;
}

/** "0.0015 ROC", with the exact planck in the tooltip. */
export function money(planck, token) {
  return el('span', { textContent: formatAmount(planck, token), title: `${planck} planck` });
}

export function when(iso) {
  return iso ? el('time', { dateTime: iso, textContent: new Date(iso).toLocaleString() }) : '—';
}

export function shortHash(hash) {
  return hash && hash.length > 20 ? `${hash.slice(0, 10)}…${hash.slice(-8)}` : hash;
}

// A payout's or withdrawal's status in words (signed and sent first, then in a block, then final).
const PAYOUT_WORDS = {
  created: 'preparing', signed: 'preparing', submitted: 'sent', in_block: 'confirming',
  finalized: 'paid', failed: 'failed', expired: 'expired',
};

/**
 * Table cells of a payout or withdrawal: created, status, amount, fee, transaction hash, block.
 * A withdrawal's fee is the viewer's own; a creator payout's is their share of the transaction's
 * fee, paid by the platform ('—' until the payout is in a block).
 */
export function payoutCells(payout, token) {
  const status = el('span', { className: `pill pill-${payout.status}`,
    textContent: PAYOUT_WORDS[payout.status] ?? payout.status });
  const hash = payout.extrinsic_hash
    ? el('code', { textContent: shortHash(payout.extrinsic_hash), title: payout.extrinsic_hash,
      className: 'tx-hash' })
    : '—';
  return [
    when(payout.created_at),
    payout.error ? el('span', {}, status, ' ', el('span', { className: 'hint', textContent: payout.error })) : status,
    money(payout.amount, token),
    payout.fee == null ? '—' : money(payout.fee, token),
    hash,
    payout.block_number ?? '—',
  ];
}

/**
 * A table body filled from a cursor-paginated list endpoint. `cells(item)` gives one row's
 * cells; "Show more" follows next_cursor; reload() refreshes everything shown so far.
 */
export class PagedTable {
  constructor(path, tbody, moreButton, cells, emptyText) {
    Object.assign(this, { path, tbody, moreButton, cells, emptyText });
    this.items = [];
    this.cursor = null;
    moreButton.addEventListener('click', () => this.more());
  }

  async reload() {
    const limit = Math.min(MAX_PAGE, Math.max(PAGE, this.items.length));
    const page = await api(`${this.path}${this.path.includes('?') ? '&' : '?'}limit=${limit}`);
    this.items = page.items;
    this.cursor = page.next_cursor;
    this.render();
    return this.items;
  }

  async more() {
    if (!this.cursor) return;
    const sep = this.path.includes('?') ? '&' : '?';
    const page = await api(`${this.path}${sep}limit=${PAGE}&cursor=${encodeURIComponent(this.cursor)}`);
    this.items = this.items.concat(page.items);
    this.cursor = page.next_cursor;
    this.render();
  }

  render() {
    const rows = this.items.map((item) => el('tr', {},
      ...this.cells(item).map((cell) => el('td', {}, cell))));
    if (!rows.length) {
      const colspan = this.tbody.closest('table').querySelectorAll('thead th').length;
      rows.push(el('tr', {}, el('td', { colSpan: colspan, className: 'hint', textContent: this.emptyText })));
    }
    this.tbody.replaceChildren(...rows);
    this.moreButton.hidden = !this.cursor;
  }
}
