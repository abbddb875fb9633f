// The duty-officer panel: sign in, watch the station live, act with large buttons.
//
// Everything shown comes from the API; the live stream (server-sent events) pushes
// health, the running broadcasts and new journal events, and a journal event that
// concerns alarms, rain or the satellite phone makes the panel read those again.

import { ApiError, call, newKey, optional, setCsrf } from "./api.js";
import { applyWords, currentLang, formatTime, has, setLang, t } from "./i18n.js";
import { drawRainChart, seriesSpan, STEP_S } from "./rain-chart.js";

const $ = (id) => document.getElementById(id);
const EVACUATE = { message: "evacuate", zones: ["all"], repeat: 3, priority: "evacuation",
  type: "emergency" };
const JOURNAL_KEEP = 150;
const OUTBOX_SHOWN = 3;
const RAIN_SERIES_EVERY_MS = 60_000;
const RAIN_TOTALS_EVERY_MS = 10_000;
const FALLBACK_REFRESH_MS = 30_000;
const SIGNED_IN_KEY = "station-edge.signed-in";

const state = {
  me: null, stream: null, health: null, broadcasts: [], alarms: null, satphone: null,
  rain: null, series: {}, messages: {}, journal: [], pushed: new Set(), timers: [],
};

// -- small DOM helpers ---------------------------------------------------------------

function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(node.dataset, v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  node.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return node;
}

function tr(prefix, value) {
  return has(`${prefix}_${value}`) ? t(`${prefix}_${value}`) : String(value ?? "—");
}

function canAct() {
  return state.me && state.me.role !== "viewer";
}

let noticeTimer = null;
function notice(text, kind = "info") {
  const box = $("notice");
  box.textContent = text;
  box.dataset.kind = kind;
  box.hidden = false;
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => { box.hidden = true; }, 6000);
}

function failed(err) {
  if (err instanceof ApiError && err.status === 401) return signedOut("session_over");
  const why = err instanceof ApiError && err.status === 403 ? t("forbidden") : t("action_failed");
  notice(`${why}: ${err.message}`, "error");
}

async function act(button, work) {
  button.disabled = true;
  try {
    await work();
  } catch (err) {
    failed(err);
  } finally {
    button.disabled = !canAct();
  }
}

// -- rendering -----------------------------------------------------------------------

function renderHealth() {
  const health = state.health;
  if (!health) return;
  $("station-name").textContent = health.station.name;
  const badge = $("station-status");
  badge.textContent = tr("st", health.status);
  badge.className = `badge status-${health.status}`;
  badge.dataset.status = health.status;
  $("devices").replaceChildren(...health.devices.map((d) => h("div",
    { class: `tile status-${d.status}`, dataset: { device: d.id, status: d.status },
      title: `${d.detail} · ${formatTime(d.since)}` },
    h("span", { class: "tile-name" }, d.id),
    h("span", { class: "tile-status" }, tr("st", d.status)),
    h("span", { class: "tile-detail" }, `${tr("dev", d.kind)} · ${d.detail}`))));
}

function contentText(b) {
  if (b.message) {
    const m = state.messages[b.message];
    if (!m) return b.message;
    return currentLang() === "en" && m.gloss ? m.gloss : m.text;
  }
  if (b.siren) return `${t("siren")} ${b.siren}`;
  if (b.text) return b.text;
  return b.live ? `${t("live_voice")} ${b.live}` : "—";
}

function renderBroadcasts() {
  const list = $("broadcasts");
  if (!state.broadcasts.length) {
    list.replaceChildren(h("li", { class: "empty" }, t("no_broadcast")));
    return;
  }
  list.replaceChildren(...state.broadcasts.map((b) => h("li",
    { class: `broadcast state-${b.state} prio-${b.priority}`, dataset: { id: b.id } },
    h("div", { class: "line1" },
      h("strong", { class: "content" }, contentText(b)),
      h("span", { class: "badge" }, currentLang() === "en" ? b.type : b.type_zh)),
    h("div", { class: "line2" },
      `${tr("bc", b.state)} · ${t("zones")} ${b.zones.join(", ")} · ${t("plays")} ${b.plays}/${b.repeat}`),
    h("button", { type: "button", class: "stop", disabled: !canAct(),
      onclick: (e) => act(e.currentTarget, () => stopBroadcast(b.id)) }, t("stop")))));
}

function alarmText(a) {
  if (currentLang() !== "en" && a.summary) return a.summary;
  const what = a.kind === "rain"
    ? `${a.name || a.source}: ${a.total_mm ?? "?"} mm / ${a.window} (${tr("lvl", a.level)} ${a.threshold_mm ?? ""})`
    : `${a.name || a.source}`;
  return `${tr("kind", a.kind)} · ${what}`;
}

function renderAlarms() {
  const list = $("alarms");
  if (state.alarms === null) {
    list.replaceChildren(h("li", { class: "empty" }, t("not_available")));
    return;
  }
  const open = state.alarms.filter((a) => a.state !== "cleared");
  if (!open.length) {
    list.replaceChildren(h("li", { class: "empty" }, t("no_alarms")));
    return;
  }
  list.replaceChildren(...open.map((a) => h("li",
    { class: `alarm state-${a.state} level-${a.level || "none"}`, dataset: { id: a.id } },
    h("div", { class: "line1" }, h("strong", {}, alarmText(a))),
    h("div", { class: "line2" }, `${tr("al", a.state)} · ${formatTime(a.raised)}`,
      a.acknowledged_by ? ` · ${a.acknowledged_by}` : ""),
    a.state === "active"
      ? h("button", { type: "button", class: "ack", disabled: !canAct(),
        onclick: (e) => act(e.currentTarget, () => acknowledge(a.id)) }, t("ack"))
      : null)));
}

// A spot check (一键通抽查) waiting for the duty officer: a prompt at the top, one button.
function renderCheckin() {
  const waiting = (state.checkins || []).find((c) => c.state === "waiting");
  $("checkin").hidden = !waiting;
  $("checkin-answer").disabled = !canAct();
}

async function answerCheckin() {
  await call("POST", "/api/v1/checkins/answer");
  notice(t("checkin_answered"), "ok");
}

function signalBars(signal) {
  // The station reports 0–5 bars for every terminal personality (null: unknown).
  return Number.isInteger(signal) ? Math.max(0, Math.min(5, signal)) : 0;
}

function renderSatphone() {
  const box = $("satphone");
  const s = state.satphone;
  if (!s) {
    box.replaceChildren(h("p", { class: "empty" }, t("not_available")));
    return;
  }
  const bars = signalBars(s.signal);
  const outbox = s.outbox || [];
  box.replaceChildren(...[
    h("div", { class: "sat-line" },
      h("span", { class: "bars", dataset: { bars } },
        ...[1, 2, 3, 4, 5].map((i) => h("i", { class: i <= bars ? "on" : "" }))),
      h("span", {}, `${t("signal")} ${s.signal ?? "—"}/5`),
      h("span", { class: `badge status-${s.state}` }, tr("st", s.state)),
      h("span", {}, s.registered ? t("registered") : t("not_registered")),
      s.battery_percent !== null && s.battery_percent !== undefined
        ? h("span", {}, `${t("battery")} ${s.battery_percent}%`) : null),
    s.detail ? h("p", { class: "sat-detail" }, s.detail) : null,
    s.last_error ? h("p", { class: "error" }, s.last_error) : null,
    h("h3", {}, `${t("outbox")} (${outbox.length})`),
    outbox.length
      ? h("ul", { class: "list outbox" }, ...outbox.slice(0, OUTBOX_SHOWN).map((m) => h("li",
        { class: `sms-${m.state}`, title: m.text }, h("span", { class: "badge" }, tr("sms", m.state)),
        ` ${formatTime(m.created)} → ${m.to} · ${m.text}`)))
      : h("p", { class: "empty" }, t("outbox_empty")),
  ].filter(Boolean));
}

function renderRain() {
  const box = $("rain");
  if (state.rain === null) {
    box.replaceChildren(h("p", { class: "empty" }, t("not_available")));
    return;
  }
  if (!state.rain.gauges.length) {
    box.replaceChildren(h("p", { class: "empty" }, t("no_gauges")));
    return;
  }
  box.replaceChildren(...state.rain.gauges.map((g) => {
    const series = state.series[g.id];
    const chart = series ? drawRainChart(g, series, box.clientWidth) : null;
    const totals = Object.entries(g.totals || {})
      .filter(([w]) => ["10min", "1h", "24h"].includes(w))
      .map(([w, mm]) => h("span", { class: "total" }, `${w} ${mm === null ? "—" : mm} mm`));
    return h("div", { class: `gauge level-${g.level || "none"} status-${g.status}`,
      dataset: { gauge: g.id } },
    h("div", { class: "line1" },
      h("strong", {}, g.name || g.id),
      h("span", { class: `badge level-${g.level || "none"}` }, tr("lvl", g.level || "none")),
      h("span", { class: `badge status-${g.status}` }, tr("st", g.status)),
      g.fresh === false ? h("span", { class: "badge stale" }, t("stale")) : null),
    h("div", { class: "line2" }, ...totals,
      h("span", {}, `${t("last_reading")} ${formatTime(g.last_reading)}`)),
    chart ? h("div", { class: "chart-caption" }, t("per_window", { w: chart.window || "" })) : null,
    chart ? chart.svg : null);
  }));
}

function journalLine(e) {
  const data = e.data || {};
  const bits = [data.status, data.to, data.state, data.reason, data.detail]
    .filter((v) => typeof v === "string");
  if (data.broadcast && data.broadcast.message) bits.unshift(data.broadcast.message);
  return h("li", { class: `ev kind-${e.kind.split(".")[0]}`, dataset: { seq: e.seq } },
    h("time", {}, formatTime(e.ts)),
    h("span", { class: "ev-kind", title: e.kind }, tr("ev", e.kind.replace(".", "_"))),
    h("span", { class: "ev-source" }, `${e.source} · ${e.actor}`),
    bits.length ? h("span", { class: "ev-data" }, bits.join(" · ")) : null);
}

function addJournal(events) {
  const fresh = events.filter((e) => !state.journal.length || e.seq > state.journal[0].seq);
  if (!fresh.length) return;
  state.journal = [...fresh.reverse(), ...state.journal].slice(0, JOURNAL_KEEP);
  const list = $("journal");
  list.prepend(...fresh.map(journalLine));
  while (list.children.length > JOURNAL_KEEP) list.lastElementChild.remove();
}

function renderAll() {
  applyWords();
  $("lang").textContent = currentLang() === "en" ? "中文" : "English";
  $("lang").lang = currentLang() === "en" ? "zh-CN" : "en";
  if (state.me) {
    $("who").textContent = `${state.me.name} · ${tr("role", state.me.role)}`;
  }
  renderHealth();
  renderBroadcasts();
  renderAlarms();
  renderCheckin();
  renderSatphone();
  renderRain();
  $("journal").replaceChildren(...state.journal.map(journalLine));
  refreshLive();
}

// -- reading the station -------------------------------------------------------------

async function loadAlarms() {
  const reply = await optional("/api/v1/alarms");
  state.alarms = reply ? reply.alarms : null;
  renderAlarms();
}

async function loadSatphone() {
  state.satphone = await optional("/api/v1/satphone");
  renderSatphone();
}

async function loadRain(withSeries) {
  state.rain = await optional("/api/v1/rain");
  if (state.rain && withSeries) {
    // The station's own time: a simulated station may run faster than the wall clock.
    const to = new Date(state.rain.time || state.health?.time || Date.now());
    await Promise.all(state.rain.gauges.map(async (g) => {
      const from = new Date(to.getTime() - seriesSpan(g) * 1000);
      const query = `from=${from.toISOString()}&to=${to.toISOString()}&step=${STEP_S}`;
      const series = await optional(`/api/v1/rain/${encodeURIComponent(g.id)}/series?${query}`);
      if (series) state.series[g.id] = { ...series, to: to.toISOString() };
    }));
  }
  renderRain();
}

async function loadMessages() {
  const reply = await optional("/api/v1/messages");
  for (const m of reply ? reply.messages : []) state.messages[m.id] = m;
}

const pending = new Map();
function soon(name, work) {
  // Many journal events in a burst cause one read, not one each.
  if (pending.has(name)) return;
  pending.set(name, setTimeout(() => {
    pending.delete(name);
    work().catch(failed);
  }, 300));
}

function reactToJournal(events) {
  for (const e of events) {
    const head = e.kind.split(".")[0];
    if (!state.pushed.has("alarms") && /alarm|rain|input/.test(head)) soon("alarms", loadAlarms);
    if (!state.pushed.has("rain") && /rain|alarm/.test(head)) soon("rain", () => loadRain(false));
    if (!state.pushed.has("satphone") && /sat|sms|modem|call/.test(head)) {
      soon("satphone", loadSatphone);
    }
  }
}

// -- live stream ---------------------------------------------------------------------

function refreshLive() {
  const live = $("live");
  const open = state.stream && state.stream.readyState === EventSource.OPEN;
  const key = open ? "live_on" : state.stream ? "live_retry" : "live_off";
  live.dataset.state = open ? "on" : "off";
  live.dataset.i18n = key;
  live.textContent = t(key);
}

const PUSHED = {
  health: (data) => { state.health = data; renderHealth(); },
  broadcasts: (data) => { state.broadcasts = data.broadcasts; renderBroadcasts(); },
  alarms: (data) => { state.alarms = data.alarms; renderAlarms(); },
  satphone: (data) => { state.satphone = data; renderSatphone(); },
  rain: (data) => { state.rain = data; renderRain(); },
  checkins: (data) => { state.checkins = data.checkins; renderCheckin(); },
};

function openStream() {
  closeStream();
  const stream = new EventSource("/api/v1/stream");
  state.stream = stream;
  stream.onopen = refreshLive;
  for (const [name, show] of Object.entries(PUSHED)) {
    stream.addEventListener(name, (e) => {
      state.pushed.add(name);
      show(JSON.parse(e.data));
    });
  }
  stream.addEventListener("journal", (e) => {
    const { events } = JSON.parse(e.data);
    addJournal(events);
    reactToJournal(events);
  });
  stream.addEventListener("signed_out", () => signedOut("session_over"));
  stream.onerror = async () => {
    refreshLive();
    if (stream.readyState !== EventSource.CLOSED) return;
    try {
      await call("GET", "/api/v1/session");
      setTimeout(() => { if (state.stream === stream) openStream(); }, 3000);
    } catch {
      signedOut("session_over");
    }
  };
}

function closeStream() {
  if (state.stream) state.stream.close();
  state.stream = null;
}

// -- actions -------------------------------------------------------------------------

async function evacuate() {
  const broadcast = await call("POST", "/api/v1/broadcasts", EVACUATE,
    { "Idempotency-Key": newKey() });
  if (!state.broadcasts.some((b) => b.id === broadcast.id)) {
    state.broadcasts = [broadcast, ...state.broadcasts];
    renderBroadcasts();
  }
  notice(t("evacuate_sent"), "ok");
}

async function stopBroadcast(id) {
  await call("DELETE", `/api/v1/broadcasts/${encodeURIComponent(id)}`);
  state.broadcasts = state.broadcasts.filter((b) => b.id !== id);
  renderBroadcasts();
  notice(t("stopped"), "ok");
}

async function acknowledge(id) {
  await call("POST", `/api/v1/alarms/${encodeURIComponent(id)}/ack`);
  notice(t("acked"), "ok");
  await loadAlarms();
}

// -- signing in and out ----------------------------------------------------------------

function showPanel(me) {
  localStorage.setItem(SIGNED_IN_KEY, "1");
  state.me = me;
  setCsrf(me.csrf);
  $("sign-in-view").hidden = true;
  $("panel-view").hidden = false;
  $("sign-out").hidden = false;
  document.body.classList.toggle("read-only", !canAct());
  $("readonly").hidden = canAct();
  $("evacuate").disabled = !canAct();
  renderAll();
  openStream();
  Promise.all([loadMessages().then(renderBroadcasts), loadAlarms(), loadSatphone(),
    loadRain(true)]).catch(failed);
  state.timers.push(setInterval(() => loadRain(true).catch(failed), RAIN_SERIES_EVERY_MS));
  state.timers.push(setInterval(() => loadRain(false).catch(failed), RAIN_TOTALS_EVERY_MS));
  state.timers.push(setInterval(() => {
    if (!state.pushed.has("alarms")) loadAlarms().catch(failed);
    if (!state.pushed.has("satphone")) loadSatphone().catch(failed);
  }, FALLBACK_REFRESH_MS));
}

function signedOut(reasonKey) {
  localStorage.removeItem(SIGNED_IN_KEY);
  closeStream();
  state.timers.forEach(clearInterval);
  Object.assign(state, { me: null, timers: [], journal: [], pushed: new Set() });
  setCsrf(null);
  $("panel-view").hidden = true;
  $("sign-out").hidden = true;
  $("who").textContent = "";
  $("sign-in-view").hidden = false;
  $("token").value = "";
  $("token").focus();
  refreshLive();
  if (reasonKey) notice(t(reasonKey), reasonKey === "signed_out" ? "ok" : "error");
}

async function signIn(event) {
  event.preventDefault();
  const error = $("sign-in-error");
  error.hidden = true;
  try {
    showPanel(await call("POST", "/api/v1/sign-in", { token: $("token").value }));
    $("token").value = "";
  } catch (err) {
    error.textContent = err instanceof ApiError && err.status === 401
      ? t("sign_in_failed") : `${t("action_failed")}: ${err.message}`;
    error.hidden = false;
  }
}

async function signOut() {
  try {
    await call("POST", "/api/v1/sign-out");
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 401)) return failed(err);
  }
  signedOut("signed_out");
}

// -- start -----------------------------------------------------------------------------

function tick() {
  const clock = $("clock");
  clock.textContent = formatTime(new Date().toISOString());
}

function start() {
  applyWords();
  $("sign-in").addEventListener("submit", signIn);
  $("sign-out").addEventListener("click", signOut);
  $("lang").addEventListener("click", () => {
    setLang(currentLang() === "en" ? "zh-CN" : "en");
    renderAll();
  });
  const dialog = $("confirm-evacuate");
  $("evacuate").addEventListener("click", () => { if (canAct()) dialog.showModal(); });
  $("checkin-answer").addEventListener("click",
    (e) => act(e.currentTarget, answerCheckin));
  dialog.addEventListener("close", () => {
    if (dialog.returnValue === "confirm") act($("evacuate"), evacuate);
    dialog.returnValue = "";
  });
  tick();
  setInterval(tick, 1000);
  renderAll();
  // Ask for the session only if this browser signed in before: an anonymous probe on
  // every page load would fill the journal with access denials.
  if (localStorage.getItem(SIGNED_IN_KEY)) {
    call("GET", "/api/v1/session").then(showPanel, () => signedOut(null));
  } else {
    signedOut(null);
  }
  let resizing = null;
  window.addEventListener("resize", () => {
    clearTimeout(resizing);
    resizing = setTimeout(renderRain, 200);
  });
}

start();
