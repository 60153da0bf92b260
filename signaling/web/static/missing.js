// A page whose subject does not exist (an unknown stream or video): in place of the player, the
// same "not found" panel as the server's 404 page (templates/not_found.html), with a way on.

const BOX_ID = 'not-found';

function element(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
}

/** Hide the page's content and say that `what` ('Stream', 'Video') is not there. */
export function showNotFound(what, text) {
  const main = document.getElementById('main');
  for (const child of main.children) child.hidden = true;
  document.getElementById(BOX_ID)?.remove();
  main.append(element('section', { id: BOX_ID, className: 'panel not-found' },
    element('h1', { textContent: `${what} not found` }),
    element('p', { textContent: text }),
    element('p', { className: 'row' },
      element('a', { href: '/', textContent: 'See who is live now' }), ' ',
      element('a', { href: '/search', textContent: 'Search streams and videos' }))));
  document.title = `${what} not found · vilokanam`;
}

/** Undo showNotFound (it is there after all: a creator signed in to see their own). */
export function clearNotFound() {
  const box = document.getElementById(BOX_ID);
  if (!box) return;
  box.remove();
  for (const child of document.getElementById('main').children) child.hidden = false;
}
