// Words of the panel in Simplified Chinese (the default) and English.
// Elements carry data-i18n="key"; code calls t("key").

const WORDS = {
  "zh-CN": {
    app_title: "应急站边缘控制器",
    live_on: "实时", live_off: "未连接", live_retry: "重新连接中…",
    sign_in: "登录", sign_out: "退出登录", token_label: "值班令牌",
    sign_in_failed: "令牌无效，请重试", signed_out: "已退出登录", session_over: "登录已过期，请重新登录",
    readonly: "只读：查看员令牌不能操作",
    evacuate: "立即转移", evacuate_sub: "全部区域广播转移令",
    confirm_title: "确认发布转移令？", confirm_text: "将在全部区域播放“立即转移”，重复3次。",
    confirm_yes: "确认广播", cancel: "取消",
    evacuate_sent: "转移令已发布", action_failed: "操作失败", forbidden: "无权操作",
    broadcast_now: "当前广播", no_broadcast: "没有正在进行的广播", stop: "停止",
    stopped: "广播已停止",
    alarms: "报警", no_alarms: "没有报警", ack: "确认", acked: "已确认",
    checkin_prompt: "县应急局抽查：请立即应答", checkin_answer: "应答", checkin_answered: "已应答抽查",
    not_available: "暂无此功能",
    devices: "设备状态", rain_24h: "近24小时雨量", no_gauges: "没有雨量计",
    satphone: "卫星电话", signal: "信号", registered: "已注册", not_registered: "未注册",
    outbox: "短信", outbox_empty: "无短信", battery: "电量",
    sms_pending: "待发", sms_sent: "已发", sms_failed: "失败",
    journal: "值班日志",
    role_viewer: "查看员", role_operator: "值班员", role_admin: "管理员",
    st_ok: "正常", st_degraded: "降级", st_fault: "故障", st_offline: "离线", st_unknown: "未知",
    lvl_none: "无预警", lvl_prepare: "准备转移", lvl_evacuate: "立即转移",
    al_active: "未确认", al_acknowledged: "已确认", al_cleared: "已解除",
    kind_rain: "雨量", kind_hand_alarm: "手动报警",
    bc_waiting: "等待", bc_playing: "播放中", bc_done: "完成", bc_failed: "失败",
    bc_cancelled: "已停止", bc_interrupted: "被打断",
    zones: "区域", repeat: "次", plays: "已播", siren: "警报音", live_voice: "现场喊话",
    dev_message_library: "语音库",
    prepare_line: "准备转移", evacuate_line: "立即转移", per_window: "每{w}雨量（毫米）",
    last_reading: "最近读数", stale: "数据陈旧",
    dev_amplifier: "功放", dev_siren: "警报器", dev_hand_alarm: "手动报警", dev_journal: "日志",
    dev_gpio: "GPIO", dev_rain_gauge: "雨量计", dev_sat_phone: "卫星电话", dev_bus: "总线",
    ev_station_started: "站点启动", ev_station_stopping: "站点停止中", ev_station_stopped: "站点已停止",
    ev_health_changed: "设备状态变化", ev_api_listening: "接口已就绪", ev_access_denied: "拒绝访问",
    ev_access_denied_repeats: "多次拒绝访问", ev_access_locked_out: "客户端已被锁定",
    ev_panel_signed_in: "登录面板", ev_panel_signed_out: "退出面板", ev_panel_evacuate: "按下转移按钮",
    ev_panel_stop: "按下停止按钮", ev_panel_ack: "按下确认按钮", ev_input_pressed: "输入触发",
    ev_input_released: "输入恢复", ev_output_switching: "输出切换中", ev_output_switched: "输出已切换",
    ev_amplifier_state: "功放状态", ev_broadcast_accepted: "广播已受理",
    ev_broadcast_started: "广播开始", ev_broadcast_playing: "广播播放",
    ev_broadcast_done: "广播完成", ev_broadcast_cancelled: "广播已停止",
    ev_broadcast_failed: "广播失败", ev_broadcast_interrupted: "广播被打断",
    ev_alarm_raised: "报警触发", ev_alarm_escalated: "报警升级", ev_alarm_acknowledged: "报警已确认",
    ev_alarm_cleared: "报警解除", ev_rain_data_gap: "雨量数据中断",
    ev_rain_window: "雨量时段越限变化", ev_rain_outage_increment: "中断期间雨量补计",
    ev_satphone_sms_queued: "短信排队", ev_satphone_sms_attempt: "短信发送中",
    ev_satphone_sms_sent: "短信已发出", ev_satphone_sms_failed: "短信发送失败",
    ev_satphone_report: "卫星电话报告", dev_self_test: "自检", dev_checkin: "抽查",
  },
  en: {
    app_title: "StationEdge emergency station",
    live_on: "Live", live_off: "Offline", live_retry: "Reconnecting…",
    sign_in: "Sign in", sign_out: "Sign out", token_label: "Duty token",
    sign_in_failed: "Unknown token, try again", signed_out: "Signed out",
    session_over: "Session ended, please sign in again",
    readonly: "Read-only: a viewer token cannot act",
    evacuate: "EVACUATE", evacuate_sub: "Evacuation order to all zones",
    confirm_title: "Broadcast the evacuation order?",
    confirm_text: "Plays “evacuate now” in all zones, 3 times.",
    confirm_yes: "Broadcast", cancel: "Cancel",
    evacuate_sent: "Evacuation order sent", action_failed: "Action failed",
    forbidden: "Not allowed",
    broadcast_now: "Broadcast now", no_broadcast: "No broadcast running", stop: "STOP",
    stopped: "Broadcast stopped",
    alarms: "Alarms", no_alarms: "No alarms", ack: "ACK", acked: "Acknowledged",
    checkin_prompt: "Spot check from the county: answer now", checkin_answer: "Answer",
    checkin_answered: "Spot check answered",
    not_available: "Not available yet",
    devices: "Devices", rain_24h: "Rainfall, last 24 h", no_gauges: "No rain gauges",
    satphone: "Satellite phone", signal: "Signal", registered: "registered",
    not_registered: "not registered", outbox: "Outbox", outbox_empty: "Outbox empty",
    battery: "battery", sms_pending: "pending", sms_sent: "sent", sms_failed: "failed",
    journal: "Journal",
    role_viewer: "viewer", role_operator: "operator", role_admin: "admin",
    st_ok: "OK", st_degraded: "Degraded", st_fault: "FAULT", st_offline: "Offline",
    st_unknown: "Unknown",
    lvl_none: "no warning", lvl_prepare: "PREPARE", lvl_evacuate: "EVACUATE",
    al_active: "active", al_acknowledged: "acknowledged", al_cleared: "cleared",
    kind_rain: "Rain", kind_hand_alarm: "Hand alarm",
    bc_waiting: "waiting", bc_playing: "playing", bc_done: "done", bc_failed: "failed",
    bc_cancelled: "stopped", bc_interrupted: "interrupted",
    zones: "zones", repeat: "×", plays: "played", siren: "Siren", live_voice: "Live voice",
    dev_message_library: "Messages",
    prepare_line: "prepare", evacuate_line: "evacuate", per_window: "mm per {w}",
    last_reading: "last reading", stale: "stale",
    dev_amplifier: "Amplifier", dev_siren: "Siren", dev_hand_alarm: "Hand alarm",
    dev_journal: "Journal", dev_gpio: "GPIO", dev_rain_gauge: "Rain gauge",
    dev_sat_phone: "Satellite phone", dev_bus: "Bus",
    ev_station_started: "station started", ev_station_stopping: "station stopping",
    ev_station_stopped: "station stopped", ev_health_changed: "health changed",
    ev_api_listening: "API listening", ev_access_denied: "access denied",
    ev_access_denied_repeats: "access denied (repeated)",
    ev_access_locked_out: "client locked out",
    ev_panel_signed_in: "panel sign-in", ev_panel_signed_out: "panel sign-out",
    ev_panel_evacuate: "EVACUATE pressed", ev_panel_stop: "STOP pressed",
    ev_panel_ack: "ACK pressed", ev_input_pressed: "input active",
    ev_input_released: "input released", ev_output_switching: "output switching",
    ev_output_switched: "output switched", ev_amplifier_state: "amplifier",
    ev_broadcast_accepted: "broadcast accepted", ev_broadcast_started: "broadcast started",
    ev_broadcast_playing: "broadcast playing", ev_broadcast_done: "broadcast done",
    ev_broadcast_cancelled: "broadcast stopped", ev_broadcast_failed: "broadcast failed",
    ev_broadcast_interrupted: "broadcast interrupted", ev_alarm_raised: "alarm raised",
    ev_alarm_escalated: "alarm escalated", ev_alarm_acknowledged: "alarm acknowledged",
    ev_alarm_cleared: "alarm cleared", ev_rain_data_gap: "rain data gap",
    ev_rain_window: "rain window crossed or cleared",
    ev_rain_outage_increment: "rain of an outage counted",
    ev_satphone_sms_queued: "SMS queued", ev_satphone_sms_attempt: "SMS sending",
    ev_satphone_sms_sent: "SMS sent", ev_satphone_sms_failed: "SMS failed",
    ev_satphone_report: "satellite report", dev_self_test: "Self-test", dev_checkin: "Spot check",
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

export function formatTime(iso) {
  return iso ? TIME.format(new Date(iso)) : "—";
}

export function formatHour(date) {
  return HOUR.format(date);
}
