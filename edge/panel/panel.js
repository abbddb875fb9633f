// The duty-officer panel: sign in, see at once what is happening and what to do, act
// with large buttons, and know when the station can no longer be reached.
//
// The station pushes over one stream (server-sent events): its overall state in words
// (``state``), health, broadcasts, alarms, the satellite phone, spot checks, journal
// events described, and a heartbeat with its clock. No heartbeat for a while: the panel
// says so over everything and points to the physical buttons.

import { ApiError, call, newKey, optional, setCsrf } from "./api.js";
import * as attention from "./attention.js";
import * as dutyLog from "./duty-log.js";
import { applyWords, currentLang, formatTime, has, said, setLang, t } from "./i18n.js";
import * as journal from "./journal-view.js";
import { drawRainChart, seriesSpan, STEP_S } from "./rain-chart.js";
import * as clock from "./station-clock.js";

const $ = (id) => document.getElementById(id);
const OUTBOX_SHOWN = 3;
const RAIN_SERIES_EVERY_MS = 60_000;
const RAIN_TOTALS_EVERY_MS = 10_000;
const FALLBACK_REFRESH_MS = 30_000;
const ALARM_SOUND_EVERY_MS = 6_000;
const SIGNED_IN_KEY = "station-edge.signed-in";
const SHOWN_TOTALS = ["10min", "1h", "24h"];

const state = {
  me: null, setup: null, view: null, stream: null, broadcasts: [], satphone: null,
  rain: null, series: {}, gaps: {}, checkins: [], pushed: new Set(), timers: [],
  lost: false, alerted: new Set(), checkinAlerted: null, dutyOpen: false, outGauges: "",
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
  return state.me && state.me.role !== "viewer" && !state.lost;
}

function nameOf(id) {
  const named = state.setup?.names?.[id];
  return named ? said(named) : id;
}

function zonesOf(zones) {
  const shown = (zones || []).includes("all") ? ["all"] : zones || [];
  return shown.map((z) => said(state.setup?.zones?.[z]) || z).join("、");
}

function mm(value) {
  return value === null || value === undefined ? "—" : t("mm", { v: Number(value).toFixed(1) });
}

let noticeTimer = null;
/** A passing word; an error stays a minute (or until clicked): a failure must be seen. */
function notice(text, kind = "info", detail = "") {
  const box = $("notice");
  box.textContent = text;
  box.title = detail;
  box.dataset.kind = kind;
  box.hidden = false;
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => { box.hidden = true; }, kind === "error" ? 60_000 : 6000);
}

/** What a failed request means, in the officer's words. A 503 is the station saying it
 * did the change in memory but could not save it: neither done nor simply failed. */
function failureText(err) {
  if (!(err instanceof ApiError)) return t("no_network");
  if (err.status === 503) return t("not_saved");
  const why = err.status === 403 ? t("forbidden") : t("action_failed");
  return `${why}: ${err.message}`;
}

function failed(err) {
  if (err instanceof ApiError && err.status === 401) return signedOut("session_over");
  if (!(err instanceof ApiError) && state.lost) return; // the lost view says it already
  notice(failureText(err), "error", err instanceof ApiError ? err.message : String(err));
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

// -- header: the overall state -------------------------------------------------------

function renderHeader() {
  const badge = $("station-status");
  const overall = state.view?.overall;
  if (state.lost) {
    badge.textContent = t("lost_title");
    badge.dataset.level = "lost";
    badge.dataset.tone = "lost";
    $("state-detail").textContent = "";
  } else if (overall) {
    badge.textContent = said(overall.says);
    badge.dataset.level = overall.level;
    badge.dataset.tone = overall.tone;
    const also = overall.also.map((c) => said(c.says));
    $("state-detail").textContent = [said(overall.detail), ...also].filter(Boolean).join(" · ");
  }
  const name = state.setup?.station?.name || t("app_title");
  $("station-name").textContent = name;
  const calm = `${name} · ${t("app_title")}`;
  const urgent = state.lost ? `【${t("lost_title")}】${name}`
    : overall && ["critical", "warning"].includes(overall.tone)
      ? `【${said(overall.says)}】${name}` : null;
  attention.setTitle(calm, urgent);
  attention.setIcon(state.lost ? "lost" : overall?.tone === "critical" ? "alarm" : "calm");
  document.body.dataset.tone = state.lost ? "lost" : overall?.tone || "unknown";
}

function tick() {
  const lost = state.me !== null && clock.isLost();
  // The station's time, never the browser's: unknown before its first heartbeat and
  // while it is lost (the last time heard is in the lost view).
  const now = lost ? null : clock.stationNow();
  $("clock").textContent = now === null ? "--:--:--" : formatTime(new Date(now).toISOString());
  $("clock").dataset.known = now === null ? "no" : "yes";
  if (lost !== state.lost) {
    state.lost = lost;
    if (lost) {
      $("notice").hidden = true; // "cannot reach" and the like: the lost view says it all
      attention.play("lost");
      attention.notify(t("lost_title"), t("notify_lost"), "lost");
    }
    renderAll();
  }
  if (state.lost) {
    $("lost-since").textContent = t("lost_since", { at: formatTime(clock.lastHeard()) });
  }
  renderCountdown();
}

// -- the alarm banner ----------------------------------------------------------------

function calloutLines(alarm) {
  const lines = [];
  const c = alarm.callout;
  if (c) {
    for (const m of c.messaged || []) {
      const answered = c.answered_by && c.state === "answered";
      lines.push(h("li", { class: "tier" },
        h("strong", {}, `${t("tier", { n: m.tier })}`), " ",
        m.numbers.join("、"), " · ", t("messaged_at", { at: formatTime(m.at) }), " · ",
        h("span", { class: answered ? "ok" : "waiting" }, answered && m.numbers.includes(c.answered_by)
          ? t("answered_by", { who: c.answered_by, at: formatTime(c.answered_at) })
          : t("not_answered"))));
    }
    if (c.state === "unanswered") lines.push(h("li", { class: "unanswered" }, t("callout_unanswered")));
    if (c.state === "answered" && !(c.messaged || []).some((m) => m.numbers.includes(c.answered_by))) {
      lines.push(h("li", { class: "ok" }, t("answered_by", { who: c.answered_by, at: formatTime(c.answered_at) })));
    }
  }
  const w = alarm.wakeup;
  if (w && w.calls) {
    for (const call of w.calls) {
      lines.push(h("li", { class: "tier" }, h("strong", {}, `${t("wakeup")} ${t("tier", { n: call.tier })}`),
        " ", call.target, " · ", tr("wake", call.outcome)));
    }
  }
  return lines;
}

function renderBanner() {
  const banner = $("alarm-banner");
  const alarms = state.view?.alarms || [];
  banner.hidden = !state.me || state.lost || !alarms.length || state.dutyOpen;
  if (banner.hidden) return;
  const sounding = state.view.sounding || [];
  banner.replaceChildren(...alarms.map((a) => {
    const level = a.level || "evacuate";
    const checklist = a.checklist || [];
    const callout = calloutLines(a);
    return h("article", { class: `alarm level-${level} state-${a.state}`, dataset: { id: a.id } },
      h("div", { class: "alarm-head" },
        h("span", { class: "alarm-level" }, a.kind === "hand_alarm"
          ? said({ zh: "手动报警 · 立即转移", en: "HAND ALARM · EVACUATE" }) : tr("lvl", level)),
        h("span", { class: "alarm-cause" }, said(a.cause)),
        h("span", { class: "alarm-since" }, t("since", { at: formatTime(a.raised) }))),
      h("div", { class: "alarm-body" },
        h("div", { class: "alarm-now" },
          h("h3", {}, t("sounding")),
          sounding.length ? h("ul", { class: "sounding" }, ...sounding.map((s) => h("li", {}, said(s))))
            : h("p", { class: "quiet" }, t("nothing_sounding")),
          h("h3", {}, t("callout")),
          callout.length ? h("ul", { class: "callout" }, ...callout)
            : h("p", { class: "quiet" }, t("callout_none"))),
        h("div", { class: "alarm-next" },
          h("h3", {}, t("next_steps")),
          h("ol", { class: "checklist" }, ...checklist.map((step) => h("li", {}, step))))),
      h("div", { class: "alarm-act" },
        a.state === "active"
          ? h("button", { type: "button", class: "ack", disabled: !canAct(),
            onclick: (e) => act(e.currentTarget, () => acknowledge(a.id)) },
          t(level === "prepare" ? "ack_prepare" : "ack_evacuate"))
          : h("p", { class: "acked" }, t("acked_by", { who: a.acknowledged_by || "—",
            at: formatTime(a.acknowledged_at) }))));
  }));
}

// -- evacuation button, spot check --------------------------------------------------------

function evacuation() {
  return state.view?.evacuation || state.broadcasts.find((b) => b.priority === "evacuation") || null;
}

function renderEvacuate() {
  const button = $("evacuate");
  button.hidden = state.lost;
  $("physical").hidden = !state.lost || !state.me;
  const active = evacuation();
  const repeat = active?.repeat || state.setup?.evacuate?.repeat || 3;
  if (active) {
    const turn = Math.min((active.plays || 0) + 1, repeat);
    button.dataset.state = active.state === "playing" ? "on-air" : "waiting";
    $("evacuate-big").textContent = active.state === "playing" ? t("evacuate_on_air") : t("evacuate_waiting");
    $("evacuate-sub").textContent = t("evacuate_turn", { n: turn, of: repeat });
  } else {
    button.dataset.state = "ready";
    $("evacuate-big").textContent = t("evacuate");
    $("evacuate-sub").textContent = t("evacuate_sub");
  }
  button.disabled = !canAct();
}

function renderCheckin() {
  const waiting = state.view?.checkin || (state.checkins || []).find((c) => c.state === "waiting");
  $("checkin").hidden = !waiting || state.lost;
  $("checkin-answer").disabled = !canAct();
  if (waiting && state.checkinAlerted !== waiting.id) {
    state.checkinAlerted = waiting.id;
    attention.play("checkin");
    attention.notify(t("checkin_prompt"), t("notify_checkin"), "checkin");
  }
  renderCountdown();
}

function renderCountdown() {
  const waiting = state.view?.checkin;
  const box = $("checkin-countdown");
  if (!waiting) {
    box.textContent = "";
    return;
  }
  const now = clock.stationNow();
  if (now === null) {
    box.textContent = "";
    return;
  }
  const deadline = Date.parse(waiting.started) + waiting.answer_within_s * 1000;
  const left = Math.round((deadline - now) / 1000);
  box.dataset.left = String(left);
  box.textContent = left <= 0 ? t("checkin_overdue") : t("checkin_left",
    { m: Math.floor(left / 60), s: String(left % 60).padStart(2, "0") });
}

// -- devices, broadcasts, rain, satellite phone ------------------------------------------

function renderDevices() {
  const devices = state.view?.devices || [];
  $("devices").replaceChildren(...devices.map((d) => {
    const status = state.lost ? "unknown" : d.status;
    return h("div", { class: `tile status-${status}${d.latched ? " latched" : ""}`,
      dataset: { device: d.id, status }, title: `${d.id} · ${d.kind} · ${d.detail} · ${formatTime(d.since)}` },
    h("span", { class: "tile-name" }, said(d.name)),
    h("span", { class: "tile-status" }, state.lost ? t("lost_unknown") : said(d.status_words)),
    h("span", { class: "tile-detail" }, state.lost ? "" : `${said(d.detail_words)} · ${t("since", { at: formatTime(d.since) })}`),
    !state.lost && d.advice ? h("span", { class: "tile-advice" }, said(d.advice)) : null,
    !state.lost && d.latched ? h("button", { type: "button", class: "small clear-fault",
      disabled: !canAct(), onclick: (e) => act(e.currentTarget, () => clearFault(d.id)) },
    t("clear_fault")) : null);
  }));
}

function contentText(b) {
  if (b.message) return said(state.setup?.messages?.[b.message]) || b.message;
  if (b.siren) return said(state.setup?.sirens?.[b.siren]) || b.siren;
  if (b.text) return b.text;
  return b.live ? `${b.live}` : "—";
}

function renderBroadcasts() {
  const list = $("broadcasts");
  if (state.lost && !state.broadcasts.length) { // "none on air" is not known either
    list.replaceChildren(h("li", { class: "empty" }, t("lost_unknown")));
    return;
  }
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
      `${state.lost ? t("lost_unknown") : tr("bc", b.state)} · ${zonesOf(b.zones)} · ${t("plays", { n: Math.min(b.plays + 1, b.repeat), of: b.repeat })}`),
    h("button", { type: "button", class: "stop", disabled: !canAct(),
      onclick: (e) => act(e.currentTarget, () => stopBroadcast(b.id)) }, t("stop")))));
}

function stale(g) {
  return g.fresh === false || (g.status && g.status !== "ok");
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
    const out = stale(g) || state.lost;
    const series = state.series[g.id];
    const chart = series ? drawRainChart(g, series, box.clientWidth, state.gaps[g.id] || []) : null;
    const totals = SHOWN_TOTALS.map((w) => h("span", { class: "total", dataset: { window: w } },
      `${t(`win_${w}`)} `, h("b", {}, out ? "—" : mm(g.totals?.[w]))));
    const stoppedAt = g.stopped_at || g.last_reading;
    return h("div", { class: `gauge level-${g.level || "none"} status-${g.status}${out ? " out" : ""}`,
      dataset: { gauge: g.id } },
    h("div", { class: "line1" },
      h("strong", {}, g.name || nameOf(g.id)),
      g.level && g.level !== "none" ? h("span", { class: `badge level-${g.level}` }, tr("lvl", g.level)) : null,
      out ? h("span", { class: "badge stale" }, t("data_stopped")) : null),
    h("div", { class: "line2" }, ...totals),
    h("div", { class: "line3" }, out
      ? (stoppedAt ? t("stopped_since", { at: formatTime(stoppedAt) }) : t("never_read"))
      : `${t("last_reading")} ${formatTime(g.last_reading)}`),
    chart ? h("div", { class: "chart-caption" }, t("per_window", { w: t(`win_${chart.window}`) })) : null,
    chart ? chart.svg : null);
  }));
}

function signalBars(signal) {
  return Number.isInteger(signal) ? Math.max(0, Math.min(5, signal)) : 0;
}

function renderSatphone() {
  const box = $("satphone");
  const s = state.satphone;
  if (!s) {
    box.replaceChildren(h("p", { class: "empty" }, t("not_available")));
    return;
  }
  if (state.lost) {
    box.replaceChildren(h("p", { class: "empty" }, t("lost_unknown")));
    return;
  }
  const bars = signalBars(s.signal);
  const outbox = s.outbox || [];
  const device = (state.view?.devices || []).find((d) => d.id === "sat_phone");
  box.replaceChildren(...[
    h("div", { class: "sat-line" },
      h("span", { class: "bars", dataset: { bars } },
        ...[1, 2, 3, 4, 5].map((i) => h("i", { class: i <= bars ? "on" : "" }))),
      h("span", {}, `${t("signal")} ${s.signal ?? "—"}/5`),
      h("span", { class: `badge status-${state.lost ? "unknown" : s.state}` }, state.lost
        ? t("lost_unknown") : device ? said(device.status_words) : s.state),
      h("span", {}, s.registered ? t("registered") : t("not_registered")),
      s.battery_percent !== null && s.battery_percent !== undefined
        ? h("span", {}, `${t("battery")} ${s.battery_percent}%`) : null),
    device && device.advice ? h("p", { class: "sat-detail" }, said(device.advice)) : null,
    h("h3", {}, `${t("outbox")} (${outbox.length})`),
    outbox.length
      ? h("ul", { class: "list outbox" }, ...outbox.slice(0, OUTBOX_SHOWN).map((m) => h("li",
        { class: `sms-${m.state}`, title: m.text },
        h("span", { class: "badge" }, tr("sms", m.state)),
        m.delivery ? h("span", { class: `badge delivery-${m.delivery}` }, tr("delivery", m.delivery)) : null,
        ` ${formatTime(m.created)} → ${m.to} · ${m.text}`)))
      : h("p", { class: "empty" }, t("outbox_empty")),
  ].filter(Boolean));
}

function renderJournal() {
  journal.renderFilters(h, $("journal-filters"), (name) => {
    journal.setFilter(name);
    renderJournal();
  });
  journal.render(h, $("journal"));
}

function renderAll() {
  applyWords();
  $("lang").textContent = currentLang() === "en" ? "中文" : "English";
  $("lang").lang = currentLang() === "en" ? "zh-CN" : "en";
  $("sound").textContent = attention.soundWanted() ? t("sound_on") : t("sound_off");
  $("sound").setAttribute("aria-pressed", attention.soundWanted() ? "true" : "false");
  if (state.me) $("who").textContent = `${state.me.name} · ${tr("role", state.me.role)}`;
  $("lost").hidden = !state.lost || !state.me;
  document.body.classList.toggle("lost", state.lost);
  renderHeader();
  renderBanner();
  renderEvacuate();
  renderCheckin();
  renderDevices();
  renderBroadcasts();
  renderSatphone();
  renderRain();
  renderJournal();
}

// -- attention on change ----------------------------------------------------------------

function alarmAttention() {
  const active = (state.view?.alarms || []).filter((a) => a.state === "active");
  for (const a of active) {
    if (state.alerted.has(`${a.id}:${a.level}`)) continue;
    state.alerted.add(`${a.id}:${a.level}`);
    attention.play("alarm");
    attention.notify(said(a.level === "prepare" ? { zh: "准备转移预警", en: "PREPARE" }
      : { zh: "立即转移", en: "EVACUATE" }), said(a.cause), `alarm-${a.id}`);
  }
}

function repeatAlarmSound() {
  const active = (state.view?.alarms || []).some((a) => a.state === "active");
  if (active && !state.lost) attention.play("alarm");
}

// -- reading the station -------------------------------------------------------------

async function loadRain(withSeries) {
  state.rain = await optional("/api/v1/rain");
  // A gauge that stopped (or came back) redraws its chart now: its gap, not a flat line.
  const out = (state.rain?.gauges || []).filter(stale).map((g) => g.id).join(",");
  if (out !== state.outGauges) withSeries = true;
  state.outGauges = out;
  if (state.rain && withSeries) {
    const to = new Date(state.rain.time); // the station's clock, as it answered
    await Promise.all(state.rain.gauges.map(async (g) => {
      const from = new Date(to.getTime() - seriesSpan(g) * 1000);
      const span = `from=${from.toISOString()}&to=${to.toISOString()}`;
      const [series, gaps] = await Promise.all([
        optional(`/api/v1/rain/${encodeURIComponent(g.id)}/series?${span}&step=${STEP_S}`),
        optional(`/api/v1/rain/${encodeURIComponent(g.id)}/gaps?from=${new Date(to.getTime() - 86400_000).toISOString()}&to=${to.toISOString()}`),
      ]);
      if (series) state.series[g.id] = { ...series, to: to.toISOString() };
      state.gaps[g.id] = gaps ? gaps.gaps : [];
    }));
  }
  renderRain();
}

async function loadSatphone() {
  state.satphone = await optional("/api/v1/satphone");
  renderSatphone();
}

async function loadJournal() {
  const recent = await call("GET", "/api/v1/journal/recent");
  journal.take(recent.events);
  renderJournal();
}

function refreshLive() {
  const live = $("live");
  const open = state.stream && state.stream.readyState === EventSource.OPEN && !state.lost;
  const key = open ? "live_on" : state.stream ? "live_retry" : "live_off";
  live.dataset.state = open ? "on" : "off";
  live.dataset.i18n = key;
  live.textContent = t(key);
}

const PUSHED = {
  state: (data) => {
    state.view = data;
    alarmAttention();
    renderHeader(); renderBanner(); renderEvacuate(); renderCheckin(); renderDevices();
    renderSatphone();
  },
  broadcasts: (data) => { state.broadcasts = data.broadcasts; renderBroadcasts(); renderEvacuate(); },
  satphone: (data) => { state.satphone = data; renderSatphone(); },
  rain: (data) => { state.rain = data; renderRain(); },
  checkins: (data) => { state.checkins = data.checkins; renderCheckin(); },
  alarms: () => soon("rain", () => loadRain(false)),
};

const pending = new Map();
function soon(name, work) {
  if (pending.has(name)) return;
  pending.set(name, setTimeout(() => {
    pending.delete(name);
    work().catch(failed);
  }, 300));
}

function openStream() {
  closeStream();
  const stream = new EventSource("/api/v1/stream");
  state.stream = stream;
  stream.onopen = refreshLive;
  stream.addEventListener("heartbeat", (e) => {
    clock.heartbeat(JSON.parse(e.data));
    tick(); // the station's clock at once, not up to a second later
    refreshLive();
  });
  for (const [name, show] of Object.entries(PUSHED)) {
    stream.addEventListener(name, (e) => {
      state.pushed.add(name);
      show(JSON.parse(e.data));
    });
  }
  stream.addEventListener("journal", (e) => {
    const { events } = JSON.parse(e.data);
    if (journal.take(events).length || events.length) renderJournal();
    if (events.some((ev) => /^(rain|alarm|health)\./.test(ev.kind))) soon("rain", () => loadRain(false));
  });
  stream.addEventListener("signed_out", () => signedOut("session_over"));
  stream.onerror = () => {
    refreshLive();
    if (stream.readyState !== EventSource.CLOSED) return; // the browser retries by itself
    // Closed: the station answered with an error (a lost session), or is gone. Ask.
    setTimeout(async () => {
      if (state.stream !== stream) return;
      try {
        await call("GET", "/api/v1/session");
        openStream();
      } catch (err) {
        if (err instanceof ApiError && err.status === 401) signedOut("session_over");
        else setTimeout(() => { if (state.stream === stream) openStream(); }, 2000);
      }
    }, 1000);
  };
}

function closeStream() {
  if (state.stream) state.stream.close();
  state.stream = null;
}

// -- actions -------------------------------------------------------------------------

async function evacuate(ifActive) {
  const body = { message: state.setup?.evacuate?.message || "evacuate", zones: ["all"],
    repeat: state.setup?.evacuate?.repeat || 3, priority: "evacuation", type: "emergency",
    if_active: ifActive };
  try {
    const broadcast = await call("POST", "/api/v1/broadcasts", body, { "Idempotency-Key": newKey() });
    state.broadcasts = [broadcast, ...state.broadcasts.filter((b) => b.id !== broadcast.id &&
      !(ifActive === "restart" && b.priority === "evacuation"))];
    renderBroadcasts();
    renderEvacuate();
    notice(t(ifActive === "restart" ? "evacuate_restarted" : "evacuate_sent"), "ok");
  } catch (err) {
    if (err instanceof ApiError && err.status === 409 && err.body?.active) {
      state.view = { ...state.view, evacuation: err.body.active };
      renderEvacuate();
      askEvacuate();
      return;
    }
    throw err;
  }
}

function askEvacuate() {
  if (!canAct()) return;
  const dialog = $("confirm-evacuate");
  const active = evacuation();
  const repeat = active?.repeat || state.setup?.evacuate?.repeat || 3;
  dialog.dataset.mode = active ? "restart" : "start";
  $("confirm-title").textContent = active
    ? t("restart_title", { n: Math.min((active.plays || 0) + 1, repeat), of: repeat })
    : t("confirm_title");
  $("confirm-text").textContent = active ? t("restart_text") : t("confirm_text", { n: repeat });
  $("evacuate-confirm").textContent = active ? t("restart_yes") : t("confirm_yes");
  dialog.showModal();
  $("evacuate-cancel").focus();
}

async function stopBroadcast(id) {
  await call("DELETE", `/api/v1/broadcasts/${encodeURIComponent(id)}`);
  state.broadcasts = state.broadcasts.filter((b) => b.id !== id);
  renderBroadcasts();
  renderEvacuate();
  notice(t("stopped"), "ok");
}

async function acknowledge(id) {
  await call("POST", `/api/v1/alarms/${encodeURIComponent(id)}/ack`);
  notice(t("acked"), "ok");
}

async function clearFault(device) {
  try {
    await call("POST", `/api/v1/faults/${encodeURIComponent(device)}/clear`);
  } catch (err) {
    if (!(err instanceof ApiError && [404, 409].includes(err.status))) throw err;
    // 409: the cause is still there; 404: someone cleared it already
    notice(t(err.status === 409 ? "clear_refused" : "fault_cleared"), err.status === 409
      ? "error" : "ok", err.message);
    return;
  }
  notice(t("fault_cleared"), "ok");
}

async function answerCheckin() {
  await call("POST", "/api/v1/checkins/answer");
  notice(t("checkin_answered"), "ok");
}

// -- 值班记录 ---------------------------------------------------------------------------

function showDuty(open) {
  state.dutyOpen = open;
  $("duty-view").hidden = !open;
  $("panel-view").hidden = open;
  document.body.classList.toggle("duty-open", open);
  renderBanner();
  if (open) dutyLog.load(h).catch(failed);
}

// -- signing in and out ----------------------------------------------------------------

async function showPanel(me) {
  localStorage.setItem(SIGNED_IN_KEY, "1");
  state.me = me;
  setCsrf(me.csrf);
  $("sign-in-view").hidden = true;
  $("panel-view").hidden = false;
  $("sign-out").hidden = false;
  $("show-duty").hidden = false;
  $("handover").hidden = me.role === "viewer";
  document.body.classList.toggle("read-only", me.role === "viewer");
  $("readonly").hidden = me.role !== "viewer";
  state.setup = await optional("/api/v1/panel/setup");
  if (state.setup) clock.configure(state.setup);
  renderAll();
  openStream();
  journal.reset();
  Promise.all([loadJournal(), loadSatphone(), loadRain(true)]).catch(failed);
  state.timers.push(setInterval(() => loadRain(true).catch(failed), RAIN_SERIES_EVERY_MS));
  state.timers.push(setInterval(() => loadRain(false).catch(failed), RAIN_TOTALS_EVERY_MS));
  state.timers.push(setInterval(() => {
    if (!state.pushed.has("satphone")) loadSatphone().catch(failed);
  }, FALLBACK_REFRESH_MS));
  state.timers.push(setInterval(repeatAlarmSound, ALARM_SOUND_EVERY_MS));
}

function signedOut(reasonKey) {
  localStorage.removeItem(SIGNED_IN_KEY);
  closeStream();
  clock.forget();
  state.timers.forEach(clearInterval);
  Object.assign(state, { me: null, timers: [], pushed: new Set(), lost: false, view: null,
    dutyOpen: false });
  journal.reset();
  setCsrf(null);
  $("panel-view").hidden = true;
  $("duty-view").hidden = true;
  $("sign-out").hidden = true;
  $("show-duty").hidden = true;
  $("who").textContent = "";
  $("sign-in-view").hidden = false;
  $("token").value = "";
  $("token").focus();
  const reason = $("sign-in-reason");
  reason.hidden = !reasonKey || reasonKey === "signed_out";
  reason.textContent = reasonKey ? t(reasonKey) : "";
  renderAll();
  refreshLive();
  if (reasonKey) notice(t(reasonKey), reasonKey === "signed_out" ? "ok" : "error");
}

async function signIn(event) {
  event.preventDefault();
  const error = $("sign-in-error");
  error.hidden = true;
  try {
    const me = await call("POST", "/api/v1/sign-in", { token: $("token").value });
    $("token").value = "";
    $("sign-in-reason").hidden = true;
    await showPanel(me);
  } catch (err) {
    error.textContent = err instanceof ApiError && err.status === 401
      ? t("sign_in_failed") : failureText(err);
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

function start() {
  applyWords();
  attention.resumeOnGesture();
  $("sign-in").addEventListener("submit", signIn);
  $("sign-out").addEventListener("click", signOut);
  $("lang").addEventListener("click", () => {
    setLang(currentLang() === "en" ? "zh-CN" : "en");
    renderAll();
    if (state.dutyOpen) dutyLog.load(h).catch(failed);
  });
  $("sound").addEventListener("click", async () => {
    await attention.setSound(!attention.soundWanted());
    renderAll();
  });
  $("show-duty").addEventListener("click", () => showDuty(!state.dutyOpen));
  $("notice").addEventListener("click", () => { $("notice").hidden = true; });
  $("duty-close").addEventListener("click", () => showDuty(false));
  dutyLog.wire(h, failed, () => state.me && state.me.role !== "viewer");
  const dialog = $("confirm-evacuate");
  $("evacuate").addEventListener("click", askEvacuate);
  $("checkin-answer").addEventListener("click", (e) => act(e.currentTarget, answerCheckin));
  dialog.addEventListener("close", () => {
    if (dialog.returnValue === "confirm") {
      const mode = dialog.dataset.mode === "restart" ? "restart" : "refuse";
      act($("evacuate"), () => evacuate(mode));
    }
    dialog.returnValue = "";
  });
  tick();
  setInterval(tick, 1000);
  renderAll();
  // Ask for the session only if this browser signed in before: an anonymous probe on
  // every page load would fill the journal with access denials.
  if (localStorage.getItem(SIGNED_IN_KEY)) {
    call("GET", "/api/v1/session").then(showPanel, (err) => {
      signedOut(err instanceof ApiError && err.status === 401 ? "session_over" : null);
    });
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
