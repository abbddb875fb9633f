// The station's clock as the panel knows it, and whether the station is still there.
//
// Every heartbeat on the stream carries the station's time and how fast it runs (a
// simulated station may run faster than the wall clock); between heartbeats the panel
// counts on from the last one. No heartbeat for ``lostAfterMs``: the station is lost.

let beat = null; // {stationMs, localMs, scale}
let lostAfterMs = 15_000;

export function configure({ lost_after_s: lostAfterS }) {
  if (lostAfterS) lostAfterMs = lostAfterS * 1000;
}

export function heartbeat({ time, time_scale: scale }) {
  beat = { stationMs: Date.parse(time), localMs: performance.now(), scale: scale || 1 };
}

/** The station's time now (ms), or null before the first heartbeat: the browser's own
 * clock is not the station's. */
export function stationNow() {
  if (!beat) return null;
  return beat.stationMs + (performance.now() - beat.localMs) * beat.scale;
}

/** When the station was last heard from (station time, ISO), or null. */
export function lastHeard() {
  return beat ? new Date(beat.stationMs).toISOString() : null;
}

export function isLost() {
  return beat !== null && performance.now() - beat.localMs > lostAfterMs;
}

export function forget() {
  beat = null;
}
