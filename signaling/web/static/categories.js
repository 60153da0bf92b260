// Category chips (home and /videos): "All" and one toggle button per category; picking one
// filters the page's lists. The names also label stream cards, whose API gives only an id.

import { api } from './api.js';

function chip(label, id, pressed) {
  const button = Object.assign(document.createElement('button'), {
    type: 'button', className: 'chip', textContent: label,
  });
  button.dataset.category = id;
  button.setAttribute('aria-pressed', String(pressed));
  return button;
}

/**
 * Chips in `container` (hidden until there are categories); `onChange(id)` after a pick ('' is
 * all), and once the names are known. Returns { selected(), param(), nameOf(id) }.
 */
export function mountCategoryChips(container, onChange, initial = '') {
  let selected = initial;
  const names = new Map();
  const render = () => {
    container.replaceChildren(chip('All', '', !selected),
      ...[...names].map(([id, name]) => chip(name, id, id === selected)));
    container.hidden = !names.size;
  };
  container.addEventListener('click', (event) => {
    const button = event.target.closest('button.chip');
    if (!button || button.dataset.category === selected) return;
    selected = button.dataset.category;
    render();
    onChange(selected);
  });
  api('/api/categories?limit=100').then(({ items }) => {
    const sorted = [...items].sort((a, b) => a.name.localeCompare(b.name));
    for (const { id, name } of sorted) names.set(id, name);
    if (selected && !names.has(selected)) selected = '';  // a stale link: show everything
    render();
    onChange(selected);
  }).catch(() => {  // the lists still work, unfiltered
    selected = '';
    container.hidden = true;
    onChange(selected);
  });
  return {
    selected: () => selected,
    param: () => (selected ? `&category=${encodeURIComponent(selected)}` : ''),
    nameOf: (id) => names.get(id),
  };
}
