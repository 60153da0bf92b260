// Connection health of the publishing RTCPeerConnection, from getStats every second: the
// outgoing bitrate, and packet loss and round-trip time as the server's receiver reports say.

const INTERVAL_MS = 1000;
const LOSS_WARN = 0.05; // above 5 % lost, the picture breaks up

/** The figures of one getStats report summed over the outgoing tracks. */
function sample(report) {
  const figures = { at: performance.now(), bytes: 0, sent: 0, lost: 0, rtt: null };
  let pairRtt = null;
  report.forEach((entry) => {
    if (entry.type === 'outbound-rtp') {
      figures.bytes += entry.bytesSent ?? 0;
      figures.sent += entry.packetsSent ?? 0;
    } else if (entry.type === 'remote-inbound-rtp') {
      figures.lost += Math.max(0, entry.packetsLost ?? 0);
      if (entry.roundTripTime !== undefined) figures.rtt = Math.max(figures.rtt ?? 0, entry.roundTripTime);
    } else if (entry.type === 'candidate-pair' && entry.nominated && entry.currentRoundTripTime !== undefined) {
      pairRtt = entry.currentRoundTripTime;
    }
  });
  figures.rtt ??= pairRtt; // no receiver report yet: the ICE round trip
  return figures;
}

/** Bitrate (bit/s), loss (0..1, null when nothing was sent) and rtt (s or null) between samples. */
export function between(before, after) {
  const seconds = (after.at - before.at) / 1000;
  const sent = after.sent - before.sent;
  return {
    bitrate: seconds > 0 ? Math.max(0, (after.bytes - before.bytes) * 8 / seconds) : 0,
    loss: sent > 0 ? Math.min(1, Math.max(0, after.lost - before.lost) / sent) : null,
    rtt: after.rtt,
  };
}

function show(elements, { bitrate, loss, rtt }) {
  elements.bitrate.textContent = bitrate >= 1e6
    ? `${(bitrate / 1e6).toFixed(2)} Mbit/s` : `${Math.round(bitrate / 1000)} kbit/s`;
  elements.bitrate.dataset.bps = String(Math.round(bitrate));
  elements.loss.textContent = loss === null ? '…' : `${(loss * 100).toFixed(1)} %`;
  elements.loss.dataset.tone = loss !== null && loss > LOSS_WARN ? 'warn' : '';
  elements.rtt.textContent = rtt === null ? '…' : `${Math.round(rtt * 1000)} ms`;
}

/** Show `pc`'s health in {bitrate, loss, rtt} elements every second; returns a stop function. */
export function watchHealth(pc, elements) {
  let last = null;
  let stopped = false;
  const tick = async () => {
    const now = sample(await pc.getStats());
    if (!stopped && last) show(elements, between(last, now));
    last = now;
  };
  const timer = setInterval(() => { tick().catch(() => {}); }, INTERVAL_MS);
  tick().catch(() => {});
  return () => { stopped = true; clearInterval(timer); };
}
