// How long the broadcast has been live, in a <time> element, updated every second.

/** "1:02:03" for 3723 seconds. */
export function clock(seconds) {
  const pad = (n) => String(n).padStart(2, '0');
  return `${Math.floor(seconds / 3600)}:${pad(Math.floor(seconds / 60) % 60)}:${pad(seconds % 60)}`;
}

/** Count up from now in `element`; returns a function that stops it. */
export function startTimer(element) {
  const started = Date.now();
  const show = () => {
    const seconds = Math.floor((Date.now() - started) / 1000);
    element.textContent = clock(seconds);
    element.dateTime = `PT${seconds}S`;
  };
  show();
  const timer = setInterval(show, 1000);
  return () => clearInterval(timer);
}
