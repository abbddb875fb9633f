// The live journal: what happened, newest first, a duty officer's words.
//
// Every event arrives described by the station (``say``: title, text, filter category,
// whether it is chatter and the group it belongs to). Chatter -- relays switching, an
// alarm's siren broadcasts repeating, SMS attempts -- is folded under the action that
// caused it (the same rule as the printed 值班记录), so an alarm never scrolls away
// under its own siren cadence. Filters show one kind of thing at a time.

import { formatTime, said, t } from "./i18n.js";

export const FILTERS = ["all", "alarms", "broadcasts", "satphone", "faults", "checkins", "duty"];
const KEEP = 150;
const CAUSES = ["alarm", "broadcast", "checkin"];

const entries = []; // oldest first: {event, folded: [], open}
const byGroup = new Map();
const latest = new Map();
let latestCause = null;
let lastSeq = 0;
let filter = "all";

export function reset() {
  entries.length = 0;
  byGroup.clear();
  latest.clear();
  latestCause = null;
  lastSeq = 0;
}

export function lastSeen() {
  return lastSeq;
}

/** Take new events (oldest first); returns the new main entries. */
export function take(events) {
  const fresh = [];
  for (const e of events) {
    if (e.seq <= lastSeq || !e.say) continue;
    lastSeq = e.seq;
    const group = e.say.group;
    if (e.say.chatter) {
      let target = null;
      if (group) {
        const [head, name] = group.split(":");
        target = name === "*" ? latest.get(head) : byGroup.get(group);
      }
      target = target || latestCause || entries[entries.length - 1];
      if (target) {
        target.folded.push(e);
        continue;
      }
    }
    const entry = { event: e, folded: [], open: false };
    entries.push(entry);
    fresh.push(entry);
    if (group && CAUSES.includes(group.split(":")[0])) {
      byGroup.set(group, entry);
      latest.set(group.split(":")[0], entry);
      latestCause = entry;
    }
  }
  while (entries.length > KEEP) {
    const gone = entries.shift();
    for (const [key, entry] of byGroup) if (entry === gone) byGroup.delete(key);
    for (const [key, entry] of latest) if (entry === gone) latest.delete(key);
    if (latestCause === gone) latestCause = null;
  }
  return fresh;
}

export function setFilter(next) {
  filter = next;
}

export function currentFilter() {
  return filter;
}

function line(h, e, cls) {
  return h("li", { class: `ev cat-${e.say.category} tone-${e.say.tone} ${cls}`,
    dataset: { seq: e.seq, kind: e.kind } },
    h("time", {}, formatTime(e.ts)),
    h("span", { class: "ev-kind", title: e.say.ids }, said(e.say.title)),
    said(e.say.text) ? h("span", { class: "ev-data" }, said(e.say.text)) : null);
}

export function render(h, list) {
  const shown = entries.filter((x) => filter === "all" || x.event.say.category === filter);
  list.replaceChildren(...shown.slice().reverse().map((entry) => {
    const li = line(h, entry.event, "main");
    if (entry.folded.length) {
      const toggle = h("button", {
        type: "button", class: "fold", "aria-expanded": entry.open ? "true" : "false",
        onclick: () => { entry.open = !entry.open; render(h, list); },
      }, `${entry.open ? "▾" : "▸"} ${t("folded", { n: entry.folded.length })}`);
      li.append(toggle);
      if (entry.open) {
        li.append(h("ol", { class: "folded" },
          ...entry.folded.map((f) => line(h, f, "chatter"))));
      }
    }
    li.append(h("span", { class: "ev-ids" }, entry.event.say.ids));
    return li;
  }));
}

export function renderFilters(h, box, onPick) {
  box.replaceChildren(...FILTERS.map((name) => h("button", {
    type: "button", class: `chip${name === filter ? " on" : ""}`,
    "aria-pressed": name === filter ? "true" : "false", dataset: { filter: name },
    onclick: () => onPick(name),
  }, t(`filter_${name}`))));
}
