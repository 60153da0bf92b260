// Keyboard shortcuts of the player (/watch and /videos), and the help that lists them: one
// table, so the help always says what the keys do. Never while typing (the chat, a form).

const TYPING = 'textarea, select, [contenteditable]:not([contenteditable="false"]), '
  + 'input:not([type=range], [type=checkbox], [type=radio], [type=button], [type=submit])';
// A focused slider (volume, seek) moves with the arrows itself; the letters still work there.
const SLIDER_KEYS = new Set(['ArrowUp', 'ArrowDown', 'ArrowLeft', 'ArrowRight', 'Home', 'End', 'PageUp', 'PageDown']);

/** [keys as `KeyboardEvent.key`, keys as shown, what it does, action name, live too?] */
const SHORTCUTS = [
  [[' ', 'k'], 'Space / K', 'Play or pause', 'togglePlay', true],
  [['m'], 'M', 'Mute or unmute', 'toggleMute', true],
  [['ArrowUp'], '↑', 'Volume up', 'volumeUp', true],
  [['ArrowDown'], '↓', 'Volume down', 'volumeDown', true],
  [['j', 'ArrowLeft'], 'J / ←', 'Back 5 seconds', 'back', false],
  [['l', 'ArrowRight'], 'L / →', 'Forward 5 seconds', 'forward', false],
  [['f'], 'F', 'Fullscreen', 'toggleFullscreen', true],
  [['t'], 'T', 'Theatre mode', 'toggleTheatre', true],
  [['?'], '?', 'Show or hide this help', 'toggleHelp', true],
];

function element(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
}

function shortcutsFor(live) {
  return SHORTCUTS.filter(([, , , , forLive]) => forLive || !live);
}

/** The help panel listing the shortcuts (hidden until asked for). */
export function helpPanel(live) {
  const list = element('dl', { className: 'player-keys' });
  for (const [, shown, what] of shortcutsFor(live)) {
    list.append(element('div', {}, element('dt', {}, element('kbd', { textContent: shown })),
      element('dd', { textContent: what })));
  }
  return element('div', { className: 'player-help', id: 'player-help', hidden: true },
    element('p', { className: 'player-help-title', textContent: 'Keyboard shortcuts' }), list);
}

/** Call `actions[name]()` on the player's keys, anywhere on the page but in a text field. */
export function bindKeys(actions, live) {
  const byKey = new Map();
  for (const [keys, , , name] of shortcutsFor(live)) for (const key of keys) byKey.set(key, name);
  document.addEventListener('keydown', (event) => {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target instanceof Element ? event.target : null;
    if (target?.closest(TYPING)) return;
    if (target?.matches('input[type=range]') && SLIDER_KEYS.has(event.key)) return;
    if (event.key === 'Escape') { actions.closeHelp(); return; }
    if (event.key === ' ' && target?.closest('button, a, summary')) return; // it presses that
    const key = event.key.length === 1 && event.key !== '?' ? event.key.toLowerCase() : event.key;
    const name = byKey.get(key);
    if (!name) return;
    event.preventDefault(); // no page scroll on space and the arrows
    actions[name]();
  });
}
