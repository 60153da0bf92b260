// The chat panel: history, live messages, and a form that needs a signed-in session.

import { currentSession, displayName, say } from './api.js';
import { formatPlanck } from './money.js';

const MAX_CHARS = 500;
const MAX_SHOWN = 200;

/** Wire the chat panel in `root` (see the pages' #chat markup) to an events connection. */
export function mountChat(root, events) {
  const list = root.querySelector('.chat-log');
  const form = root.querySelector('form');
  const input = form.querySelector('textarea, input');
  const button = form.querySelector('button');
  const status = root.querySelector('.status');
  const shown = new Set();
  input.maxLength = MAX_CHARS;

  function add(message) {
    if (shown.has(message.id)) return;
    shown.add(message.id);
    const time = new Date(message.created_at);
    const item = document.createElement('li');
    const who = Object.assign(document.createElement('strong'), {
      textContent: displayName(message.author), title: message.author.account_id,
    });
    const when = Object.assign(document.createElement('time'), {
      dateTime: message.created_at, textContent: time.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }),
    });
    const text = Object.assign(document.createElement('span'), { className: 'text', textContent: message.content });
    item.append(who, ' ', when, text);
    if (message.type === 'tip') { // a tip stands out: its amount, then the tipper's words
      item.className = 'tip';
      const amount = Object.assign(document.createElement('span'), {
        className: 'tip-amount', textContent: `tipped ${formatPlanck(message.amount)}`,
        title: `${message.amount} planck`,
      });
      item.insertBefore(amount, when);
      item.insertBefore(document.createTextNode(' '), when);
      text.textContent = message.message;
    }
    const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    list.append(item);
    while (list.children.length > MAX_SHOWN) list.firstElementChild.remove();
    if (atBottom) list.scrollTop = list.scrollHeight;
  }

  function updateForm() {
    const signedIn = Boolean(currentSession());
    input.disabled = !signedIn;
    button.disabled = !signedIn;
    input.placeholder = signedIn ? 'Say something nice' : 'Sign in to chat';
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const content = input.value.trim();
    if (!content) { say(status, 'Type a message first.', 'error'); return; }
    if (!events.send({ type: 'chat', content })) {
      say(status, 'Not connected; your message was not sent. Reconnecting…', 'error');
      return;
    }
    input.value = '';
    say(status, '');
  });
  input.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey && input.tagName === 'TEXTAREA') {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  window.addEventListener('vk-session', updateForm);
  updateForm();

  return {
    /** Feed a server message; true when the chat panel handled it. */
    handle(message) {
      if (message.type === 'history') { message.messages.forEach(add); return true; }
      if (message.type === 'chat' || message.type === 'tip') { add(message); return true; }
      if (message.type === 'error') { say(status, message.message, 'error'); return true; }
      return false;
    },
  };
}
