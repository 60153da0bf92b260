// Sign-in: a polkadot.js-compatible wallet extension, or (dev mode only) a dev account.
// The server keeps the session in an HttpOnly cookie (the token never reaches this script);
// api.js tells every tab, and other modules listen for the 'vk-session' event.

import {
  api, clearSession, currentSession, describe, displayName, saveSession, say,
} from './api.js';

const APP_NAME = 'vilokanam';
// Sign-in answers without the token: the cookie carries the session, no script needs it.
const COOKIE_ONLY = { 'Vilokanam-Session': 'cookie' };

/** POST to a sign-in endpoint and keep the session it opens. */
async function openSession(path, body) {
  saveSession(await api(path, { method: 'POST', body, headers: COOKIE_ONLY }));
}

function utf8Hex(text) {
  return '0x' + Array.from(new TextEncoder().encode(text),
    (byte) => byte.toString(16).padStart(2, '0')).join('');
}

function walletNames() {
  return Object.keys(window.injectedWeb3 ?? {});
}

/** Sign the server's nonce message with a wallet account and exchange it for a session. */
async function signInWithWallet(extension, address) {
  const { message } = await api('/api/auth/nonce', { method: 'POST', body: { address } });
  const { signature } = await extension.signer.signRaw({ address, data: utf8Hex(message), type: 'bytes' });
  await openSession('/api/auth/verify', { address, message, signature });
}

function element(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
}

/** Render the sign-in box into `root` and keep it in step with the session. */
export function mountSignIn(root) {
  const status = element('p', { className: 'status', role: 'status', hidden: true });
  status.setAttribute('aria-live', 'polite');
  const body = element('div', { className: 'signin-body' });
  root.replaceChildren(body, status);
  let devChoice = null;
  let devAccounts = null;

  const fail = (error) => say(status, `${currentSession() ? 'Sign-out' : 'Sign-in'} failed: ${describe(error)}`, 'error');

  async function useWallet(name) {
    say(status, `Asking ${name} for your accounts…`);
    try {
      const extension = await window.injectedWeb3[name].enable(APP_NAME);
      const accounts = await extension.accounts.get();
      if (!accounts.length) {
        say(status, `${name} has no accounts. Create or import one in the extension.`, 'error');
        return;
      }
      if (accounts.length === 1) {
        say(status, 'Approve the sign-in request in your wallet…');
        await signInWithWallet(extension, accounts[0].address);
        return;
      }
      chooseAccount(extension, accounts);
    } catch (error) {
      fail(error);
    }
  }

  function chooseAccount(extension, accounts) {
    const select = element('select', { id: 'wallet-account' },
      ...accounts.map((a) => element('option', { value: a.address, textContent: a.name || a.address })));
    const form = element('form', { className: 'row' },
      element('label', { htmlFor: 'wallet-account', textContent: 'Account' }), select,
      element('button', { type: 'submit', textContent: 'Sign in' }));
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      say(status, 'Approve the sign-in request in your wallet…');
      try { await signInWithWallet(extension, select.value); } catch (error) { fail(error); }
    });
    body.replaceChildren(form);
    select.focus();
    say(status, '');
  }

  function devForm() {
    const select = element('select', { id: 'dev-account', name: 'uri' },
      ...devAccounts.map((a) => element('option', { value: a.uri, textContent: `${a.name} (dev)` })));
    // render() runs again (extensions arriving, the accounts list): keep the account picked.
    if (devChoice) select.value = devChoice;
    select.addEventListener('change', () => { devChoice = select.value; });
    const form = element('form', { className: 'row', ariaLabel: 'Development sign-in' },
      element('label', { htmlFor: 'dev-account', textContent: 'Dev account' }), select,
      element('button', { type: 'submit', id: 'dev-signin', textContent: 'Sign in' }));
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      try {
        await openSession('/api/dev/login', { uri: select.value });
      } catch (error) { fail(error); }
    });
    return form;
  }

  /** A button that ends the session on the server (`path`), then in every tab. */
  function signOutButton(id, text, path) {
    const button = element('button', { type: 'button', className: 'link', id, textContent: text });
    button.addEventListener('click', async () => {
      try {
        await api(path, { method: 'POST' });
      } catch (error) {
        if (error.status !== 401) { fail(error); return; } // 401: it had ended already
      }
      clearSession();
    });
    return button;
  }

  function render() {
    const session = currentSession();
    if (session) {
      body.replaceChildren(element('p', { className: 'row' },
        element('span', { id: 'signed-in-as', textContent: `Signed in as ${displayName(session.user)}`,
          title: session.user.account_id }),
        signOutButton('sign-out', 'Sign out', '/api/auth/logout'),
        signOutButton('sign-out-everywhere', 'Sign out everywhere', '/api/auth/logout-all')));
      return;
    }
    const parts = walletNames().map((name) => {
      const button = element('button', { type: 'button', textContent: `Sign in with ${name}` });
      button.addEventListener('click', () => useWallet(name));
      return button;
    });
    if (devAccounts) parts.push(devForm());
    if (!parts.length) {
      parts.push(element('p', { className: 'hint',
        textContent: 'To sign in, install a Polkadot wallet extension (polkadot.js, Talisman, SubWallet) and reload.' }));
    }
    body.replaceChildren(...parts);
  }

  window.addEventListener('vk-session', () => { say(status, ''); render(); });
  render();
  // Extensions inject themselves shortly after load; dev accounts exist only in dev mode.
  setTimeout(render, 600);
  fetch('/api/dev/accounts').then((r) => (r.ok ? r.json() : null)).then((data) => {
    devAccounts = data?.items ?? null;
    render();
  }).catch(() => {});
}
