"""A device's state in words a duty officer acts on: what it is, since when, what to do.

Health details are written by drivers in short English (``no reply for 5 polls: …``);
the panel shows them in Chinese first, the raw text kept for a details line. Each status
of each kind of device carries advice: what it means for the station and what the
officer should do, so a red tile at 3 a.m. is never a riddle.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from edge.names import Said

STATUS = {
    "ok": Said("正常", "OK"),
    "degraded": Said("部分异常", "Impaired"),
    "fault": Said("故障", "FAULT"),
    "offline": Said("离线", "Offline"),
    "unknown": Said("状态未知", "Unknown"),
}
ON_OFF = {"on": Said("打开", "on"), "off": Said("关闭", "off"),
          "unknown": Said("未知", "unknown")}

Rule = tuple[re.Pattern[str], Callable[[re.Match[str]], Said]]


def _rule(pattern: str, zh: str, en: str | None = None) -> Rule:
    """``zh``/``en`` are format strings over the pattern's groups ({1}, {2} …)."""
    compiled = re.compile(pattern)

    def say(m: re.Match[str]) -> Said:
        groups = ("", *(g or "" for g in m.groups()))
        return Said(zh.format(*groups), (en or m.group(0)).format(*groups))

    return compiled, say


#: Detail texts as the station's parts write them, most specific first.
DETAILS: list[Rule] = [
    _rule(r"^starting$", "启动中", "starting"),
    _rule(r"^not read yet$", "尚未读到数据", "not read yet"),
    _rule(r"^not polled yet$", "尚未查询", "not polled yet"),
    _rule(r"^off$", "关闭", "off"),
    _rule(r"^on$", "打开", "on"),
    _rule(r"^on air$", "正在广播", "on air"),
    _rule(r"^warming up$", "预热中", "warming up"),
    _rule(r"^holding$", "广播后保持通电", "holding after a broadcast"),
    _rule(r"^idle$", "待命", "idle"),
    _rule(r"^pressed$", "已按下", "pressed"),
    _rule(r"^writable$", "可正常写入", "writable"),
    _rule(r"^pulse input$", "脉冲输入", "pulse input"),
    _rule(r"^answering$", "应答正常", "answering"),
    _rule(r"^answering again \((\d+) good replies in a row\)$", "恢复应答（连续{1}次正常）",
          "answering again ({1} good replies in a row)"),
    _rule(r"^mock$", "模拟GPIO", "simulated GPIO"),
    _rule(r"^lgpio$", "GPIO芯片", "GPIO chip"),
    _rule(r"^(\d+) messages$", "{1}条语音就绪", "{1} messages ready"),
    _rule(r"^no speech for (.*)$", "以下语音无法合成：{1}", "no speech for {1}"),
    _rule(r"^no test (?:due|run) yet$", "尚未到自检时间", "no self-test yet"),
    _rule(r"^silent test passed$", "静音自检通过", "silent self-test passed"),
    _rule(r"^audible test passed$", "鸣响自检通过", "audible self-test passed"),
    _rule(r"^cannot switch on: (.*)$", "无法打开：{1}", "cannot switch on: {1}"),
    _rule(r"^cannot switch off: (.*)$", "无法关闭：{1}", "cannot switch off: {1}"),
    _rule(r"^cut after (\d+) s \(max (\d+) s\)$", "连续接通{1}秒，超过最长{2}秒，已被切断",
          "cut after {1} s (max {2} s)"),
    _rule(r"^disk full: (\d+) MiB free$", "存储空间不足：仅剩{1} MiB", "disk full: {1} MiB free"),
    _rule(r"^not writable: (.*)$", "无法写入：{1}", "not writable: {1}"),
    _rule(r"^no reply for (\d+) polls(?::.*)?$", "连续{1}次查询无应答", "no reply for {1} polls"),
    _rule(r"^sensor fault: (.*)$", "传感器报告故障：{1}", "sensor fault: {1}"),
    _rule(r"^registered, signal (\d)/5$", "已注册网络，信号{1}/5", "registered, signal {1}/5"),
    _rule(r"^no signal$", "无信号", "no signal"),
    _rule(r"^not registered \(\+CREG stat (\d+)\)$", "未注册到网络（状态码{1}）",
          "not registered (+CREG {1})"),
    _rule(r"^resynchronising: .*$", "正在重新建立通信", "resynchronising"),
    _rule(r"^channel closed$", "通信通道已关闭", "channel closed"),
    _rule(r"^direct calls \(no registrar\)$", "直接呼叫（未配置注册服务器）",
          "direct calls (no registrar)"),
    _rule(r"^registered with (.*)$", "已注册到 {1}", "registered with {1}"),
    _rule(r"^(\S+) unit (\d+) coil (\d+)$", "{1}总线 从站{2} 线圈{3}",
          "{1} bus, unit {2}, coil {3}"),
    _rule(r"^not confirmed: (.*)$", "状态未确认：{1}", "not confirmed: {1}"),
]


def detail_words(detail: str) -> Said:
    """A health detail in both languages; unknown text is shown as written."""
    for pattern, say in DETAILS:
        m = pattern.match(detail)
        if m:
            return say(m)
    return Said(detail, detail)


#: (device kind, status) -> what it means and what to do. "*" matches any kind.
ADVICE: dict[tuple[str, str], Said] = {
    ("rain_gauge", "offline"): Said(
        "该雨量站数据中断，站点不会据此报警或解除报警。请派人查看雨量计、供电和通信线，"
        "必要时改用人工观测并电话报告雨情。",
        "No data from this gauge: it can neither raise nor clear an alarm. Send someone "
        "to check the gauge, its power and line; report rain by phone meanwhile."),
    ("rain_gauge", "fault"): Said(
        "雨量计自报故障，读数不可信，站点不会据此报警。请检修雨量计，期间人工观测雨量。",
        "The gauge reports a fault; its readings are held. Repair it; observe rain by hand."),
    ("rain_gauge", "unknown"): Said("尚未读到雨量数据，请确认雨量计已接通。",
                                    "No reading yet: check the gauge is connected."),
    ("siren", "fault"): Said(
        "警报器不能按要求开关。报警时请使用手摇警报器、铜锣、口哨通知群众，并尽快检修。",
        "The siren cannot be switched. In an alarm use hand-crank sirens, gongs and "
        "whistles; have it repaired."),
    ("siren", "offline"): Said("远程警报器无应答，报警时可能不响。请检查该村的供电和通信线。",
                               "The remote siren does not answer and may stay silent."),
    ("siren", "unknown"): Said("警报器状态未确认，站点会自动重试。",
                               "The siren's state is not confirmed; the station retries."),
    ("amplifier", "fault"): Said(
        "广播功放故障，转移令可能播不出去。请用手持扩音喇叭和手摇警报器通知群众，并尽快检修。",
        "The amplifier is faulty: broadcasts may not be heard. Use megaphones and "
        "hand-crank sirens; have it repaired."),
    ("hand_alarm", "offline"): Said("该手动报警按钮无应答，村民按下时站点可能收不到。请检查线路。",
                                    "This hand alarm does not answer: a press may be missed."),
    ("sat_phone", "offline"): Said("卫星电话无应答，停电断网时无法发短信报告。请检查电源和连线。",
                                   "The satellite phone does not answer: no reports when "
                                   "the network fails. Check its power and cable."),
    ("sat_phone", "degraded"): Said("卫星电话信号弱或未注册，短信会排队等待。请把天线移到开阔处。",
                                    "Weak signal or not registered: SMS wait. Move the "
                                    "antenna to open sky."),
    ("sat_phone", "fault"): Said("卫星电话故障。请重启卫星电话，必要时用其他方式向县里报告。",
                                 "Satellite phone fault: restart it; report by other means."),
    ("journal", "fault"): Said(
        "值班日志无法保存，新的事件可能丢失。请立即联系站点管理员清理存储空间。",
        "The journal cannot be written: events may be lost. Call the station's admin."),
    ("state_store", "fault"): Said(
        "站点状态无法保存：报警、确认和登录只在内存中，重启后可能丢失。请立即联系站点管理员清理或更换存储卡。",
        "The station's state cannot be saved: alarms, acknowledgements and sign-ins are "
        "only in memory and may be lost on a restart. Call the station's admin."),
    ("rain_archive", "fault"): Said(
        "雨量数据无法保存：预警照常，但尚未保存的雨量在重启后会丢失。请立即联系站点管理员清理或更换存储卡。",
        "Rain readings cannot be saved: warnings go on, but rain not yet saved is lost on "
        "a restart. Call the station's admin."),
    ("message_library", "degraded"): Said("部分广播语音无法合成，相关广播可能无声。请联系管理员。",
                                          "Some messages have no speech: call the admin."),
    ("self_test", "degraded"): Said("最近一次自检未通过，请查看值班日志中的自检记录。",
                                    "The last self-test failed: see the journal."),
    ("sip", "degraded"): Said("网络电话不可用，叫应将改用卫星电话短信。",
                              "SIP unavailable: 叫应 goes by satellite SMS."),
    ("sip", "fault"): Said("网络电话故障，叫应将改用卫星电话短信。",
                           "SIP fault: 叫应 goes by satellite SMS."),
    ("*", "fault"): Said("设备故障，请联系站点管理员检修。",
                         "Device fault: call the station's admin."),
    ("*", "offline"): Said("设备无应答，请检查供电和连线。", "No answer: check power and cable."),
}
LATCHED = Said("原因排除后，请点击“清除故障”。",
               "Once the cause is gone, press “Clear fault”.")


def advice(kind: str, status: str) -> Said | None:
    """What a device's status means and what to do (None when there is nothing to do)."""
    if status == "ok":
        return None
    return ADVICE.get((kind, status)) or ADVICE.get(("*", status))
