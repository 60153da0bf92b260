// Small hand-drawn SVG charts: no library, no network. Values may be planck strings (BigInt-
// sized); they are drawn as Numbers, which is exact enough for pixels, while labels keep the
// caller's exact formatting.

const SVG = 'http://www.w3.org/2000/svg';
const WIDTH = 640;
const HEIGHT = 200;
const PAD = { top: 12, right: 12, bottom: 28, left: 12 };

function svgElement(tag, attributes = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

function timeLabel(iso, bucketSeconds) {
  const moment = new Date(iso);
  if (bucketSeconds >= 86400) return moment.toLocaleDateString([], { month: 'short', day: 'numeric' });
  if (bucketSeconds >= 3600) {
    return moment.toLocaleString([], { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
  }
  return moment.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

/**
 * Draw a bar chart of `points` ([{at, value}]) into `container`, replacing what was there.
 * `format(value)` renders a value for labels and tooltips; `label` names the chart for
 * assistive technology, which also gets the peak and the total in the accessible name.
 */
export function barChart(container, points, { format = String, label = 'Chart', bucketSeconds = 60 } = {}) {
  const values = points.map((p) => Number(p.value));
  const peakIndex = values.reduce((best, v, i) => (v > values[best] ? i : best), 0);
  const peak = Math.max(0, ...values);
  const total = points.reduce((sum, p) => sum + BigInt(p.value), 0n);
  const svg = svgElement('svg', {
    viewBox: `0 0 ${WIDTH} ${HEIGHT}`, class: 'chart', role: 'img', preserveAspectRatio: 'none',
    'aria-label': points.length
      ? `${label}: total ${format(total)}, peak ${format(points[peakIndex].value)}`
      : `${label}: no data`,
  });
  const plotWidth = WIDTH - PAD.left - PAD.right;
  const plotHeight = HEIGHT - PAD.top - PAD.bottom;
  const base = HEIGHT - PAD.bottom;
  svg.append(svgElement('line', { x1: PAD.left, x2: WIDTH - PAD.right, y1: base, y2: base, class: 'axis' }));
  const step = points.length ? plotWidth / points.length : plotWidth;
  points.forEach((point, i) => {
    const height = peak > 0 ? (values[i] / peak) * plotHeight : 0;
    const bar = svgElement('rect', {
      x: PAD.left + i * step + step * 0.1, width: Math.max(step * 0.8, 0.5),
      y: base - height, height: Math.max(height, values[i] > 0 ? 1 : 0), class: 'bar',
    });
    bar.append(svgElement('title', {}, `${timeLabel(point.at, bucketSeconds)}: ${format(point.value)}`));
    svg.append(bar);
  });
  if (points.length) {
    svg.append(svgElement('text', { x: PAD.left, y: HEIGHT - 8, class: 'tick' },
      timeLabel(points[0].at, bucketSeconds)));
    svg.append(svgElement('text', { x: WIDTH - PAD.right, y: HEIGHT - 8, class: 'tick', 'text-anchor': 'end' },
      timeLabel(points[points.length - 1].at, bucketSeconds)));
  }
  svg.append(svgElement('text', { x: WIDTH - PAD.right, y: PAD.top + 4, class: 'tick', 'text-anchor': 'end' },
    `peak ${format(points.length ? points[peakIndex].value : 0)}`));
  container.replaceChildren(svg);
}
