// The OBS/GStreamer panel of the broadcast page: the WHIP URL and the stream key (masked until
// "Show") with copy buttons, and for the stream's creator a rotate-key button behind a confirm.
// The key is never stored by the server in the clear: the panel shows the one in the page's
// "Stream key" field (pasted, or made here by a rotation).

import { api, describe, say } from './api.js';
import { ask } from './confirm.js';

const MASK = '•'.repeat(16);
const NO_KEY = 'Paste it above, or rotate it for a new one';
const COPIED_MS = 1500;

async function copy(button, text, what, status) {
  try {
    await navigator.clipboard.writeText(text);
    const label = button.textContent;
    button.textContent = 'Copied';
    setTimeout(() => { button.textContent = label; }, COPIED_MS);
    say(status, `${what} copied to the clipboard.`, 'ok');
  } catch {
    say(status, `The browser did not allow copying. Select the ${what.toLowerCase()} and copy it by hand.`, 'error');
  }
}

/**
 * Mount the panel. `keyInput`: the page's stream key field (read and, after a rotation,
 * written). Returns { setOwner(bool) }.
 */
export function mountObsPanel({ streamId, keyInput }) {
  const $ = (id) => document.getElementById(id);
  const [urlCode, keyCode, showButton, copyKey] = [$('obs-whip-url'), $('obs-key'), $('show-key'), $('copy-key')];
  const status = $('obs-status');
  const whipUrl = new URL(`/whip/${encodeURIComponent(streamId)}`, location.origin).href;
  urlCode.textContent = whipUrl;

  const shown = () => showButton.getAttribute('aria-pressed') === 'true';
  const render = () => {
    const key = keyInput.value.trim();
    keyCode.textContent = !key ? NO_KEY : shown() ? key : MASK;
    keyCode.dataset.masked = String(!key || !shown());
    showButton.disabled = !key;
    copyKey.disabled = !key;
  };
  showButton.addEventListener('click', () => {
    showButton.setAttribute('aria-pressed', String(!shown()));
    showButton.textContent = shown() ? 'Hide' : 'Show';
    render();
  });
  keyInput.addEventListener('input', render);
  $('copy-whip-url').addEventListener('click', (event) => copy(event.currentTarget, whipUrl, 'WHIP URL', status));
  copyKey.addEventListener('click', () => copy(copyKey, keyInput.value.trim(), 'Stream key', status));

  const rotateButton = $('rotate-key');
  rotateButton.addEventListener('click', async () => {
    if (!(await ask($('rotate-confirm')))) return;
    rotateButton.disabled = true;
    try {
      const { stream_key: key } = await api(`/api/streams/${encodeURIComponent(streamId)}/key`, { method: 'POST' });
      keyInput.value = key;
      render();
      say(status, 'New key made: the old one no longer works. Put the new one in OBS (Copy key).', 'ok');
    } catch (error) {
      say(status, `Could not make a new key: ${describe(error)}`, 'error');
    } finally {
      rotateButton.disabled = false;
    }
  });
  render();
  return { setOwner: (owner) => { $('rotate').hidden = !owner; } };
}
