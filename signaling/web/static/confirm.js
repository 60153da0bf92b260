// A yes/no question in a <dialog> (modal, so tests and people are not blocked like window.confirm).

/**
 * Show `dialog` modally; resolves true when the button with value "yes" of its
 * `<form method="dialog">` closed it, false on any other button or Escape.
 */
export function ask(dialog) {
  return new Promise((resolve) => {
    dialog.returnValue = '';
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'yes'), { once: true });
    dialog.showModal();
  });
}
