// Words of the panel in Simplified Chinese (the default) and English.
// Elements carry data-i18n="key"; code calls t("key"). What the station says about
// itself (state, devices, journal) arrives from the API already in both languages:
// pick it with said({zh, en}).

const WORDS = {
  "zh-CN": {
    app_title: "应急站边缘控制器",
    live_on: "实时连接", live_off: "未连接", live_retry: "正在重新连接…",
    sign_in: "登录", sign_out: "退出登录", token_label: "登录密码",
    token_hint: "密码由站点管理员或县应急局提供",
    sign_in_failed: "密码不对，请重试", signed_out: "已退出登录",
    session_over: "登录已失效，请重新登录",
    readonly: "只读：查看账号不能操作",
    evacuate: "立即转移", evacuate_sub: "全部区域广播转移令",
    evacuate_on_air: "转移令播放中", evacuate_turn: "第{n}/{of}遍 · 点此可重新播放",
    evacuate_waiting: "转移令等待播出",
    confirm_title: "确认发布转移令？", confirm_text: "将在全部区域播放“立即转移”，重复{n}次。",
    confirm_yes: "确认广播", cancel: "取消",
    restart_title: "转移令正在播放（第{n}/{of}遍）",
    restart_text: "不会再排队播放第二条。要停止当前这条，从第一遍重新播放吗？",
    restart_yes: "从头重新播放",
    evacuate_sent: "转移令已发布", evacuate_restarted: "转移令已从头重新播放",
    action_failed: "操作失败", forbidden: "没有操作权限", no_network: "无法连接站点",
    not_saved: "站点未能存盘（存储卡已满或损坏）：这一操作可能已在执行，但没有保存，站点重启后可能丢失。请核对面板状态，并报告县应急局。",
    broadcast_now: "当前广播", no_broadcast: "没有正在进行的广播", stop: "停止",
    stopped: "广播已停止",
    ack_evacuate: "收到，停止警报", ack_prepare: "收到，停止提醒", acked: "已收到",
    acked_by: "{who} 已于 {at} 确认收到",
    since: "{at} 起", sounding: "正在播放", nothing_sounding: "现在没有警报器或广播在响",
    next_steps: "下一步", callout: "叫应", wakeup: "电话叫醒",
    tier: "第{n}梯队", messaged_at: "{at} 已通知", not_answered: "未回复",
    answered_by: "{who} 已于 {at} 回复收到", callout_unanswered: "全部梯队均未回复，请电话逐一联系",
    callout_none: "未配置叫应",
    wake_dialing: "拨号中", wake_ringing: "振铃中", wake_talking: "通话中", wake_answered: "已接听",
    wake_no_answer: "无人接听", wake_busy: "占线或拒接", wake_unreachable: "无法接通",
    wake_cancelled: "已取消",
    checkin_prompt: "县应急局抽查：请立即应答", checkin_answer: "应答", checkin_answered: "已应答抽查",
    checkin_left: "剩余 {m}:{s}", checkin_overdue: "已超时",
    not_available: "暂无此功能",
    devices: "设备状态", rain_24h: "近24小时雨量", no_gauges: "没有雨量计",
    satphone: "卫星电话", signal: "信号", registered: "已注册网络", not_registered: "未注册网络",
    outbox: "短信", outbox_empty: "无短信", battery: "电量",
    sms_pending: "待发", sms_sent: "已发出", sms_failed: "发送失败", sms_sending: "发送中",
    delivery_delivered: "已送达", delivery_pending: "待回执", delivery_failed: "未送达",
    journal: "值班日志", folded: "附带 {n} 条动作",
    filter_all: "全部", filter_alarms: "报警预警", filter_broadcasts: "广播",
    filter_satphone: "卫星电话", filter_faults: "故障", filter_checkins: "抽查",
    filter_duty: "值班", filter_station: "站点",
    role_viewer: "查看员", role_operator: "值班员", role_admin: "管理员",
    lvl_none: "无预警", lvl_prepare: "准备转移预警", lvl_evacuate: "立即转移预警",
    bc_waiting: "等待播出", bc_playing: "播放中", bc_done: "完成", bc_failed: "失败",
    bc_cancelled: "已停止", bc_interrupted: "被打断",
    zones: "区域", plays: "第{n}/{of}遍",
    mm: "{v} 毫米", win_10min: "10分钟", win_30min: "30分钟", win_1h: "1小时", win_3h: "3小时",
    win_6h: "6小时", win_12h: "12小时", win_24h: "24小时", day_total: "今日（8时起）",
    per_window: "{w}滚动雨量（毫米）", prepare_line: "准备转移", evacuate_line: "立即转移",
    gap: "数据中断",
    last_reading: "最近读数", data_stopped: "数据中断", stopped_since: "自 {at} 起无数据",
    never_read: "尚未读到数据",
    clear_fault: "清除故障", fault_cleared: "故障已清除",
    clear_refused: "故障原因还在（输出仍然接通），不能清除。请先排除原因。",
    lost_title: "与站点失去联系", lost_since: "最后联系：{at}（站点时间）",
    lost_retry: "正在自动重新连接…", lost_unknown: "未知",
    physical_title: "无法通过网页操作",
    physical_text: "请按值班室实体“立即转移”按钮；用手摇警报器、铜锣、口哨和扩音喇叭通知群众转移。",
    sound_off: "开启声音提示", sound_on: "声音提示已开启",
    duty_log: "值班记录", duty_prev: "◀ 前一天", duty_next: "后一天 ▶", duty_print: "打印",
    duty_csv: "下载CSV", duty_close: "返回值班面板", duty_empty: "这一段时间没有记录",
    duty_span: "{from} 至 {to}（北京时间，8时至次日8时）",
    handover_label: "交接班记录", handover_save: "保存交接班记录", handover_saved: "交接班记录已保存",
    col_time: "时间", col_event: "事件", col_detail: "详情", col_actor: "操作人",
    col_folded: "附带动作",
    notify_alarm: "{what}：{cause}", notify_checkin: "县应急局抽查，请立即应答",
    notify_lost: "与站点失去联系，请使用实体按钮和手摇警报器",
  },
  en: {
    app_title: "StationEdge emergency station",
    live_on: "Live", live_off: "Offline", live_retry: "Reconnecting…",
    sign_in: "Sign in", sign_out: "Sign out", token_label: "Password",
    token_hint: "Given by the station's admin or the county",
    sign_in_failed: "Wrong password, try again", signed_out: "Signed out",
    session_over: "Session ended: sign in again",
    readonly: "Read-only: this account cannot act",
    evacuate: "EVACUATE", evacuate_sub: "Evacuation order to all zones",
    evacuate_on_air: "Evacuation order on air", evacuate_turn: "play {n} of {of} · press to restart",
    evacuate_waiting: "Evacuation order waiting",
    confirm_title: "Broadcast the evacuation order?",
    confirm_text: "Plays “evacuate now” in all zones, {n} times.",
    confirm_yes: "Broadcast", cancel: "Cancel",
    restart_title: "The evacuation order is on air (play {n} of {of})",
    restart_text: "A second one is not queued. Stop this one and start again from the first play?",
    restart_yes: "Restart from the beginning",
    evacuate_sent: "Evacuation order sent", evacuate_restarted: "Evacuation order restarted",
    action_failed: "Action failed", forbidden: "Not allowed", no_network: "Cannot reach the station",
    not_saved: "Not saved by the station (its storage card is full or failing): the action may be under way but is not saved and may be lost if the station restarts. Check the panel's state and report it to the county.",
    broadcast_now: "Broadcast now", no_broadcast: "No broadcast running", stop: "STOP",
    stopped: "Broadcast stopped",
    ack_evacuate: "Got it: stop the sirens", ack_prepare: "Got it: stop the reminder",
    acked: "Acknowledged", acked_by: "acknowledged by {who} at {at}",
    since: "since {at}", sounding: "Sounding now", nothing_sounding: "Nothing is sounding now",
    next_steps: "Next", callout: "叫应 (call-and-respond)", wakeup: "Wake-up calls",
    tier: "tier {n}", messaged_at: "messaged {at}", not_answered: "no answer yet",
    answered_by: "{who} answered at {at}", callout_unanswered: "no tier answered: phone them",
    callout_none: "no 叫应 configured",
    wake_dialing: "dialling", wake_ringing: "ringing", wake_talking: "talking",
    wake_answered: "answered", wake_no_answer: "no answer", wake_busy: "busy or declined",
    wake_unreachable: "unreachable", wake_cancelled: "cancelled",
    checkin_prompt: "Spot check from the county: answer now", checkin_answer: "Answer",
    checkin_answered: "Spot check answered", checkin_left: "{m}:{s} left",
    checkin_overdue: "overdue",
    not_available: "Not available",
    devices: "Devices", rain_24h: "Rainfall, last 24 h", no_gauges: "No rain gauges",
    satphone: "Satellite phone", signal: "Signal", registered: "registered",
    not_registered: "not registered", outbox: "SMS", outbox_empty: "No SMS",
    battery: "battery", sms_pending: "pending", sms_sent: "sent", sms_failed: "failed",
    sms_sending: "sending", delivery_delivered: "delivered", delivery_pending: "awaiting report",
    delivery_failed: "not delivered",
    journal: "Journal", folded: "{n} more actions",
    filter_all: "All", filter_alarms: "Alarms", filter_broadcasts: "Broadcasts",
    filter_satphone: "Satellite", filter_faults: "Faults", filter_checkins: "Spot checks",
    filter_duty: "Duty", filter_station: "Station",
    role_viewer: "viewer", role_operator: "operator", role_admin: "admin",
    lvl_none: "no warning", lvl_prepare: "PREPARE warning", lvl_evacuate: "EVACUATE warning",
    bc_waiting: "waiting", bc_playing: "playing", bc_done: "done", bc_failed: "failed",
    bc_cancelled: "stopped", bc_interrupted: "interrupted",
    zones: "zones", plays: "play {n} of {of}",
    mm: "{v} mm", win_10min: "10 min", win_30min: "30 min", win_1h: "1 h", win_3h: "3 h",
    win_6h: "6 h", win_12h: "12 h", win_24h: "24 h", day_total: "today (from 08:00)",
    per_window: "rolling {w} rain (mm)", prepare_line: "prepare", evacuate_line: "evacuate",
    gap: "no data",
    last_reading: "last reading", data_stopped: "NO DATA", stopped_since: "no data since {at}",
    never_read: "never read",
    clear_fault: "Clear fault", fault_cleared: "Fault cleared",
    clear_refused: "The cause is still there (the output is still ON): it cannot be cleared yet.",
    lost_title: "Lost contact with the station", lost_since: "last heard {at} (station time)",
    lost_retry: "reconnecting by itself…", lost_unknown: "unknown",
    physical_title: "The web panel cannot act",
    physical_text: "Use the duty room's physical EVACUATE button; warn people with hand-crank sirens, gongs, whistles and megaphones.",
    sound_off: "Turn on sound alerts", sound_on: "Sound alerts on",
    duty_log: "Duty log", duty_prev: "◀ Day before", duty_next: "Day after ▶", duty_print: "Print",
    duty_csv: "Download CSV", duty_close: "Back to the panel", duty_empty: "Nothing recorded",
    duty_span: "{from} to {to} (Beijing time, 08:00 to 08:00)",
    handover_label: "Handover note", handover_save: "Save handover note",
    handover_saved: "Handover note saved",
    col_time: "Time", col_event: "Event", col_detail: "Detail", col_actor: "By",
    col_folded: "With it",
    notify_alarm: "{what}: {cause}", notify_checkin: "Spot check from the county: answer now",
    notify_lost: "Lost contact with the station: use the physical buttons and hand sirens",
  },
};

const STORE_KEY = "station-edge.lang";
let lang = localStorage.getItem(STORE_KEY) === "en" ? "en" : "zh-CN";

export function currentLang() {
  return lang;
}

export function t(key, vars = {}) {
  const text = WORDS[lang][key] ?? WORDS["zh-CN"][key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => vars[name] ?? "");
}

export function has(key) {
  return key in WORDS[lang];
}

/** One of the station's own texts, given in both languages ({zh, en}). */
export function said(words) {
  if (!words) return "";
  return lang === "en" ? words.en || words.zh : words.zh || words.en;
}

export function applyWords(root = document) {
  document.documentElement.lang = lang;
  for (const el of root.querySelectorAll("[data-i18n]")) {
    el.textContent = t(el.dataset.i18n);
  }
}

export function setLang(next) {
  lang = next === "en" ? "en" : "zh-CN";
  localStorage.setItem(STORE_KEY, lang);
  applyWords();
}

// Times are shown in Beijing time: the duty room, the county and the hydrological day
// (08:00–08:00) all count in it, whatever the browser's zone.
const TIME = new Intl.DateTimeFormat("zh-CN", {
  timeZone: "Asia/Shanghai", hour12: false,
  month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit",
});
const HOUR = new Intl.DateTimeFormat("zh-CN", {
  timeZone: "Asia/Shanghai", hour12: false, hour: "2-digit", minute: "2-digit",
});
const DAY = new Intl.DateTimeFormat("sv-SE", {
  timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit", day: "2-digit",
  hour: "2-digit", minute: "2-digit", hour12: false,
});

export function formatTime(iso) {
  return iso ? TIME.format(new Date(iso)) : "—";
}

export function formatHour(date) {
  return HOUR.format(date);
}

/** ``2026-07-01 08:00`` in Beijing time. */
export function formatDay(iso) {
  return iso ? DAY.format(new Date(iso)) : "—";
}
