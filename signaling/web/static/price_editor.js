// The dashboard's "Change a stream's price": a creator's stream, its price per minute or per
// hour in the chain's unit (price_input.js), saved per second in planck with PATCH. Viewers
// watching keep the price they agreed to; the next ones are asked at the new price.

import { api, describe, say } from './api.js';
import { describePrice, formatPlanck } from './money.js';
import { mountPriceInput } from './price_input.js';

const $ = (id) => document.getElementById(id);

/** Wire the form once; returns load(), which fills the stream choice (the board is shown). */
export function mountPriceEditor(token) {
  const form = $('edit-price');
  const choice = form.stream;
  const status = $('edit-price-status');
  const price = mountPriceInput({ amount: form.price, period: form.price_period,
    hint: $('edit-price-hint') }, token);
  let streams = [];

  const showCurrent = () => { // the chosen stream's price, per minute, in the input
    const stream = streams.find((s) => s.id === choice.value);
    if (!stream) return;
    form.price.value = formatPlanck(BigInt(stream.price_per_second) * 60n, token.decimals);
    form.price_period.value = '60';
    form.price.dispatchEvent(new Event('input'));
  };

  async function load() {
    try {
      streams = (await api('/api/creator/streams?limit=100')).items.filter((s) => s.status !== 'ended');
    } catch (error) {
      say(status, `Could not load your streams: ${describe(error)}`, 'error');
      return;
    }
    const chosen = choice.value;
    choice.replaceChildren(...streams.map((s) => Object.assign(document.createElement('option'), {
      value: s.id, textContent: `${s.title} (${describePrice(s.price_per_second, token)})`,
    })));
    $('edit-price-box').hidden = !streams.length;
    if (!streams.length) say(status, 'No stream to price: create one on the home page.');
    if (streams.some((s) => s.id === chosen)) choice.value = chosen;
    showCurrent();
  }

  choice.addEventListener('change', showCurrent);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      const saved = await api(`/api/streams/${encodeURIComponent(choice.value)}`, {
        method: 'PATCH', body: { price_per_second: price() },
      });
      say(status, `Saved: ${saved.title} now costs ${describePrice(saved.price_per_second, token)}.`
        + ' Viewers watching now keep the price they agreed to; new viewers are asked at this one.', 'ok');
      await load();
    } catch (error) {
      say(status, `Could not change the price: ${describe(error)}`, 'error');
    }
  });
  return load;
}
