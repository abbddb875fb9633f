// Rainfall over the last 24 h as an inline SVG chart, with the 准备转移 / 立即转移 lines.
//
// The station fires on rolling windows (10 min … 24 h) per gauge, so the chart draws the
// rolling total of one window, the one closest to its warning level, against that
// window's two thresholds; faint bars underneath are the rain of each step. Where the
// gauge gave no data (offline, in fault, the station stopped: ``gaps``) the chart
// draws nothing but a hatched band marked 数据中断 -- never a flat zero.

import { formatHour, t } from "./i18n.js";

export const STEP_S = 600;
export const WINDOW_S = {
  "10min": 600, "30min": 1800, "1h": 3600, "3h": 10800, "6h": 21600, "12h": 43200, "24h": 86400,
};
const DAY_S = 86400;
const SVG = "http://www.w3.org/2000/svg";
const H = 170, LEFT = 40, RIGHT = 96, TOP = 12, BOTTOM = 26;

/** How far back to ask for a gauge's series: 24 h plus its longest window. */
export function seriesSpan(gauge) {
  const longest = Math.max(0, ...(gauge.thresholds || []).map((th) => WINDOW_S[th.window] || 0));
  return DAY_S + longest;
}

/** Rolling totals; a bucket the station holds as unknown (null: the gauge was stale or
 *  faulty) is unknown in the total too, never a zero that looks like a dry spell. */
export function rollingTotals(points, windowSteps) {
  const out = [];
  let sum = 0;
  points.forEach((p, i) => {
    sum += p.mm || 0;
    if (i >= windowSteps) sum -= points[i - windowSteps].mm || 0;
    out.push({ t: p.t, mm: Math.max(0, sum), held: p.mm === null });
  });
  return out;
}

/** Whether a step ending at ``ms`` (of ``stepMs``) overlaps a gap. */
function inGap(ms, stepMs, spans) {
  return spans.some(([from, to]) => ms > from && ms - stepMs < to);
}

/** The threshold window nearest its prepare level over the day (1 h when all is dry). */
export function chooseWindow(gauge, points, stepS) {
  const thresholds = (gauge.thresholds || []).filter((th) => WINDOW_S[th.window]);
  if (!thresholds.length) return null;
  let best = thresholds.find((th) => th.window === "1h") || thresholds[0];
  let bestRatio = 0;
  for (const th of thresholds) {
    const steps = Math.max(1, Math.round(WINDOW_S[th.window] / stepS));
    const peak = Math.max(0, ...rollingTotals(points, steps).map((p) => p.mm));
    const ratio = peak / (th.prepare_mm || th.evacuate_mm || 1);
    if (ratio > bestRatio) [best, bestRatio] = [th, ratio];
  }
  return best;
}

function el(name, attrs = {}, text) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function niceMax(value) {
  const steps = [5, 10, 20, 30, 50, 80, 100, 150, 200, 300, 500];
  return steps.find((s) => s >= value * 1.1) || Math.ceil(value / 100) * 100;
}

/** The chart as an SVG element drawn at ``width`` CSS pixels, so its text stays readable. */
export function drawRainChart(gauge, series, width, gaps = []) {
  const W = Math.max(300, Math.min(900, width || 640));
  const stepS = series.step_s || STEP_S;
  const threshold = chooseWindow(gauge, series.points, stepS);
  const windowSteps = threshold ? Math.max(1, Math.round(WINDOW_S[threshold.window] / stepS)) : 1;
  const dayStart = Date.parse(series.to || new Date().toISOString()) - DAY_S * 1000;
  const rolling = rollingTotals(series.points, windowSteps)
    .filter((p) => Date.parse(p.t) >= dayStart);
  const bars = series.points.filter((p) => Date.parse(p.t) >= dayStart);
  const lines = threshold ? [threshold.prepare_mm, threshold.evacuate_mm].filter((v) => v) : [];
  const top = niceMax(Math.max(1, ...rolling.map((p) => p.mm), ...lines));
  const end = dayStart + DAY_S * 1000;
  const spans = gaps.map((g) => [Date.parse(g.from), g.to ? Date.parse(g.to) : end])
    .filter(([from, to]) => to > dayStart && from < end);
  const x = (ms) => LEFT + ((Math.min(Math.max(ms, dayStart), end) - dayStart) / (DAY_S * 1000))
    * (W - LEFT - RIGHT);
  const y = (mm) => H - BOTTOM - (mm / top) * (H - TOP - BOTTOM);

  const svg = el("svg", {
    viewBox: `0 0 ${W} ${H}`, class: "rain-chart", role: "img",
    "aria-label": `${gauge.name || gauge.id}: ${t("per_window", { w: threshold?.window || "" })}`,
  });
  for (const mm of [0, top / 2, top]) {
    svg.append(el("line", { x1: LEFT, x2: W - RIGHT, y1: y(mm), y2: y(mm), class: "grid" }));
    svg.append(el("text", { x: LEFT - 6, y: y(mm) + 5, class: "axis", "text-anchor": "end" },
      String(Math.round(mm))));
  }
  for (let h = 0; h <= 24; h += 6) {
    const ms = dayStart + h * 3600 * 1000;
    svg.append(el("text", { x: x(ms), y: H - 6, class: "axis", "text-anchor": "middle" },
      formatHour(new Date(ms))));
  }
  const stepMs = stepS * 1000;
  for (const [from, to] of spans) {
    svg.append(el("rect", { x: x(from), y: TOP, width: Math.max(2, x(to) - x(from)),
      height: H - TOP - BOTTOM, class: "gap", "data-from": new Date(from).toISOString() }));
    if (x(to) - x(from) > 40) {
      svg.append(el("text", { x: (x(from) + x(to)) / 2, y: TOP + 16, class: "gap-label",
        "text-anchor": "middle" }, t("gap")));
    }
  }
  const barW = Math.max(1, (W - LEFT - RIGHT) * (stepS / DAY_S) - 1);
  for (const p of bars) {
    const ms = Date.parse(p.t);
    if (!p.mm || inGap(ms, stepMs, spans)) continue;
    svg.append(el("rect", { x: x(ms - stepMs), y: y(p.mm), width: barW, height: y(0) - y(p.mm),
      class: "step-bar" }));
  }
  let path = "";
  let pen = false;
  for (const p of rolling) {
    const ms = Date.parse(p.t);
    if (p.held || inGap(ms, stepMs, spans)) {
      pen = false;
      continue;
    }
    path += `${pen ? "L" : "M"}${x(ms).toFixed(1)},${y(p.mm).toFixed(1)}`;
    pen = true;
  }
  if (path) svg.append(el("path", { d: path, class: "rolling" }));
  if (threshold) {
    for (const [mm, cls, key] of [[threshold.prepare_mm, "prepare", "prepare_line"],
      [threshold.evacuate_mm, "evacuate", "evacuate_line"]]) {
      if (!mm) continue;
      svg.append(el("line", { x1: LEFT, x2: W - RIGHT, y1: y(mm), y2: y(mm),
        class: `threshold ${cls}`, "data-mm": mm }));
      svg.append(el("text", { x: W - RIGHT + 4, y: y(mm) + 5, class: `threshold-label ${cls}` },
        `${t(key)} ${mm}`));
    }
  }
  return { svg, window: threshold?.window || null };
}
