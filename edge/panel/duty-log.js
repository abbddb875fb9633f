// 值班记录: one duty day (08:00–08:00 Beijing) of the journal, folded and in words,
// with the officers' handover notes; printable (print CSS) and downloadable as CSV.

import { call } from "./api.js";
import { formatDay, formatTime, said, t } from "./i18n.js";
import { FILTERS } from "./journal-view.js";

const $ = (id) => document.getElementById(id);
let day = null; // "YYYY-MM-DD", null: the current duty day
let category = "all";
let shown = null;

function query(format) {
  const params = new URLSearchParams();
  if (day) params.set("day", day);
  if (category !== "all") params.set("category", category);
  if (format) params.set("format", format);
  return `/api/v1/duty-log?${params}`;
}

function shiftDay(by) {
  const base = shown ? new Date(Date.parse(shown.from) + 8 * 3600_000) : new Date();
  base.setUTCDate(base.getUTCDate() + by);
  day = base.toISOString().slice(0, 10);
}

export async function load(h) {
  shown = await call("GET", query());
  $("duty-station").textContent = shown.station.name;
  $("duty-span").textContent = t("duty_span", { from: formatDay(shown.from), to: formatDay(shown.to) });
  $("duty-csv").setAttribute("href", query("csv"));
  const select = $("duty-category");
  select.replaceChildren(...FILTERS.map((name) => h("option",
    { value: name, selected: name === category }, t(`filter_${name}`))));
  $("duty-rows").replaceChildren(...shown.entries.map((e) => h("tr",
    { class: `cat-${e.category} tone-${e.tone}${e.kind === "duty.handover_note" ? " note" : ""}`,
      dataset: { seq: e.seq, kind: e.kind } },
    h("td", { class: "time" }, formatTime(e.ts)),
    h("td", { class: "event" }, said(e.title)),
    h("td", { class: "detail" }, said(e.text)),
    h("td", { class: "actor", title: e.actor }, said(e.actor_words) || e.actor),
    h("td", { class: "folded-summary" }, said(e.folded_summary)))));
  $("duty-empty").hidden = shown.entries.length > 0;
}

export function wire(h, onFail, canAct) {
  $("duty-prev").addEventListener("click", () => { shiftDay(-1); load(h).catch(onFail); });
  $("duty-next").addEventListener("click", () => { shiftDay(1); load(h).catch(onFail); });
  $("duty-category").addEventListener("change", (e) => {
    category = e.target.value;
    load(h).catch(onFail);
  });
  $("duty-print").addEventListener("click", () => window.print());
  $("handover").addEventListener("submit", async (e) => {
    e.preventDefault();
    const text = $("handover-text").value.trim();
    if (!text || !canAct()) return;
    try {
      await call("POST", "/api/v1/duty-log/notes", { text });
      $("handover-text").value = "";
      await load(h);
    } catch (err) {
      onFail(err);
    }
  });
}
