"""Every kind of journal event, in words a duty officer reads, and where it belongs.

The journal's ``kind`` (``alarm.raised``) is a stable key for the county's scripts; the
panel and the printed 值班记录 say it in Chinese (and English), file it under a filter
(alarms, broadcasts, satellite phone, faults, spot checks, duty, station) and mark the
*chatter* -- relays clicking, audio sessions, repeats -- that is folded under the action
that caused it instead of filling the page. ``tests/test_journal_words.py`` reads the
code for every kind it can record and fails if one is missing here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Category = Literal["alarms", "broadcasts", "satphone", "faults", "checkins", "duty", "station"]
CATEGORIES: tuple[Category, ...] = ("alarms", "broadcasts", "satphone", "faults", "checkins",
                                    "duty", "station")


@dataclass(frozen=True)
class KindWords:
    zh: str
    en: str
    category: Category
    chatter: bool = False  # folded under its cause


def _k(zh: str, en: str, category: Category, chatter: bool = False) -> KindWords:
    return KindWords(zh, en, category, chatter)


KINDS: dict[str, KindWords] = {
    # -- the station itself ------------------------------------------------------------
    "station.started": _k("站点启动", "Station started", "station"),
    "station.stopping": _k("站点正在停止", "Station stopping", "station"),
    "station.stopped": _k("站点已停止", "Station stopped", "station"),
    "state.restored": _k("重启后恢复未完成事项", "Restored after restart", "station"),
    "api.listening": _k("接口已就绪", "API listening", "station"),
    "health.changed": _k("设备状态变化", "Device status changed", "faults"),
    "message.uploaded": _k("广播语音已更新", "Message recording uploaded", "broadcasts"),
    "bringup.started": _k("调试命令开始", "Bring-up command started", "station"),
    "bringup.finished": _k("调试命令结束", "Bring-up command finished", "station"),
    "bringup.at_command": _k("调试：卫星电话指令", "Bring-up: AT command", "station", True),
    "bringup.modbus_read": _k("调试：读取总线设备", "Bring-up: Modbus read", "station", True),
    "self_test.passed": _k("设备自检通过", "Self-test passed", "station"),
    "self_test.failed": _k("设备自检未通过", "Self-test failed", "faults"),
    "self_test.missed": _k("设备自检未能进行", "Self-test missed", "faults"),
    # -- access --------------------------------------------------------------------------
    "access.denied": _k("拒绝访问", "Access denied", "station"),
    "access.denied_repeats": _k("多次拒绝访问", "Access denied (repeats)", "station"),
    "access.locked_out": _k("多次登录失败，暂时锁定", "Client locked out", "station"),
    "access.throttled": _k("登录尝试过多，已拒绝", "Access throttled", "station"),
    "access.tokens_generated": _k("已生成登录口令", "Tokens generated", "station"),
    "panel.signed_in": _k("登录值班面板", "Signed in to the panel", "duty"),
    "panel.signed_out": _k("退出值班面板", "Signed out of the panel", "duty"),
    "duty.handover_note": _k("交接班记录", "Handover note", "duty"),
    # -- panel buttons and inputs ----------------------------------------------------------
    "panel.evacuate": _k("按下实体“立即转移”按钮", "EVACUATE button pressed", "broadcasts"),
    "panel.stop": _k("按下实体“停止”按钮", "STOP button pressed", "broadcasts"),
    "panel.stop_all": _k("长按“停止”按钮：全部停止", "STOP held: stop everything", "broadcasts"),
    "panel.ack": _k("按下实体“收到”按钮", "ACK button pressed", "alarms"),
    "input.pressed": _k("输入触发", "Input active", "station", True),
    "input.released": _k("输入恢复", "Input released", "station", True),
    # -- outputs ------------------------------------------------------------------------------
    "output.switching": _k("输出切换", "Output switching", "station", True),
    "output.switched": _k("输出已切换", "Output switched", "station", True),
    "output.failed": _k("输出切换失败", "Output failed to switch", "faults"),
    "output.recovered": _k("输出恢复正常", "Output recovered", "faults"),
    "output.found": _k("输出状态与要求不符", "Output found in the wrong state", "faults"),
    "output.test": _k("输出测试", "Output test", "station"),
    "amplifier.state": _k("功放状态", "Amplifier", "broadcasts", True),
    "audio.session_start": _k("音频输出开始", "Audio started", "broadcasts", True),
    "audio.session_stop": _k("音频输出结束", "Audio stopped", "broadcasts", True),
    "buzzer.started": _k("值班室蜂鸣器响起", "Duty-room buzzer on", "alarms"),
    "buzzer.stopped": _k("值班室蜂鸣器停止", "Duty-room buzzer off", "alarms"),
    # -- broadcasts ----------------------------------------------------------------------------
    "broadcast.requested": _k("收到广播请求", "Broadcast requested", "broadcasts", True),
    "broadcast.accepted": _k("广播已受理", "Broadcast accepted", "broadcasts", True),
    "broadcast.queued": _k("广播排队等待", "Broadcast queued", "broadcasts", True),
    "broadcast.waiting": _k("广播等待中", "Broadcast waiting", "broadcasts", True),
    "broadcast.started": _k("广播开始", "Broadcast started", "broadcasts"),
    "broadcast.playing": _k("广播继续播放", "Broadcast playing", "broadcasts", True),
    "broadcast.played": _k("广播播完一遍", "Broadcast played once", "broadcasts", True),
    "broadcast.preempted": _k("广播被更高优先级打断", "Broadcast preempted", "broadcasts"),
    "broadcast.resumed": _k("广播恢复播放", "Broadcast resumed", "broadcasts", True),
    "broadcast.done": _k("广播播放完毕", "Broadcast done", "broadcasts"),
    "broadcast.cancelled": _k("广播已停止", "Broadcast stopped", "broadcasts"),
    "broadcast.failed": _k("广播失败", "Broadcast failed", "faults"),
    "broadcast.interrupted": _k("广播被中断", "Broadcast interrupted", "broadcasts"),
    "broadcast.fault": _k("广播超时被切断", "Broadcast cut (maximum on-time)", "faults"),
    "cap.ignore": _k("预警信息：不适用本站，已忽略", "CAP alert ignored", "broadcasts"),
    "cap.journal": _k("预警信息：仅记录", "CAP alert journaled", "broadcasts"),
    "cap.silent": _k("预警信息：测试，不播放", "CAP test alert (silent)", "broadcasts"),
    "cap.play": _k("预警信息：开始播放", "CAP alert played", "broadcasts"),
    "cap.replace": _k("预警信息：更新并播放", "CAP alert replaced", "broadcasts"),
    "cap.stop": _k("预警信息：撤销并停止", "CAP alert cancelled", "broadcasts"),
    "cap.rejected": _k("预警信息被拒收", "CAP alert rejected", "broadcasts"),
    # -- alarms and rain ------------------------------------------------------------------------
    "alarm.raised": _k("报警触发", "Alarm raised", "alarms"),
    "alarm.escalated": _k("预警升级", "Alarm escalated", "alarms"),
    "alarm.lowered": _k("预警降级", "Alarm lowered", "alarms"),
    "alarm.acknowledged": _k("报警已收到", "Alarm acknowledged", "alarms"),
    "alarm.cleared": _k("报警解除", "Alarm cleared", "alarms"),
    "alarm.restored": _k("重启后恢复报警", "Alarm restored after restart", "alarms"),
    "rain.window": _k("雨量时段越限变化", "Rain window crossing", "alarms", True),
    "rain.data_gap": _k("雨量数据中断", "Rain data gap", "faults"),
    "rain.outage_increment": _k("中断期间的雨量补记", "Rain of an outage booked", "alarms"),
    "rain.archive_resumed": _k("雨量数据恢复保存", "Rain archive written again", "faults"),
    "checkin.started": _k("县应急局抽查", "Spot check from the county", "checkins"),
    "checkin.answered": _k("已应答抽查", "Spot check answered", "checkins"),
    "checkin.missed": _k("抽查未应答", "Spot check missed", "checkins"),
    # -- faults ---------------------------------------------------------------------------------
    "fault.max_on_time": _k("超过最长接通时间，已切断", "Cut at maximum on-time", "faults"),
    "fault.alarm_max_on_time": _k("报警动作已达最长时间，自动停止", "Alarm actions ended "
                                  "(maximum time)", "faults"),
    "fault.cleared": _k("故障已清除", "Fault cleared", "faults"),
    "fault.journal_corrupt": _k("值班日志损坏，已另存", "Journal corrupt, moved aside", "faults"),
    "fault.api_listen": _k("接口无法启动", "API cannot listen", "faults"),
    "fault.message_speech": _k("广播语音无法合成", "Message speech failed", "faults"),
    "fault.cap_seen_unreadable": _k("预警信息记录无法读取", "CAP record unreadable", "faults"),
    "fault.satphone_audio_input": _k("卫星电话音频输入故障", "Satellite audio input fault",
                                     "faults"),
    "fault.satphone_sms_handler": _k("卫星短信处理出错", "Satellite SMS handler fault", "faults"),
    "fault.sip_start": _k("网络电话无法启动", "SIP cannot start", "faults"),
    "fault.wakeup_speech": _k("叫醒语音无法合成", "Wake-up speech failed", "faults"),
    "fault.wakeup_unanswered": _k("叫醒无人应答", "Wake-up unanswered", "faults"),
    "fault.alarm_action": _k("报警动作出错", "Alarm action failed", "faults"),
    "fault.broadcast_action": _k("广播动作出错", "Broadcast action failed", "faults"),
    "fault.sip_action": _k("网络电话动作出错", "SIP action failed", "faults"),
    "fault.rain_archive": _k("雨量数据无法保存", "Rain archive fault", "faults"),
    "fault.state_corrupt": _k("状态存储损坏，已另存", "State store corrupt", "faults"),
    # -- satellite phone: 首报, 叫应, SMS, calls --------------------------------------------
    "satphone.report": _k("首报短信", "First report (SMS)", "satphone"),
    "satphone.sms_queued": _k("短信排队待发", "SMS queued", "satphone", True),
    "satphone.sms_attempt": _k("短信发送尝试", "SMS attempt", "satphone", True),
    "satphone.sms_sent": _k("短信已发出", "SMS sent", "satphone", True),
    "satphone.sms_failed": _k("短信发送失败", "SMS failed", "faults"),
    "satphone.sms_delivery": _k("短信送达回执", "SMS delivery report", "satphone", True),
    "satphone.sms_received": _k("收到短信", "SMS received", "satphone"),
    "satphone.sms_ignored": _k("短信已忽略", "SMS ignored", "satphone"),
    "satphone.sms_undecodable": _k("收到无法识别的短信", "SMS undecodable", "satphone"),
    "satphone.terminal_notice": _k("卫星电话提示", "Terminal notice", "satphone"),
    "satphone.command": _k("收到短信指令", "SMS command", "satphone"),
    "satphone.command_refused": _k("短信指令被拒绝", "SMS command refused", "satphone"),
    "satphone.command_result": _k("短信指令已执行", "SMS command result", "satphone"),
    "satphone.callout_started": _k("叫应开始", "叫应 started", "alarms"),
    "satphone.callout_escalated": _k("叫应：通知下一梯队", "叫应: next tier", "alarms"),
    "satphone.callout_answered": _k("叫应已回复", "叫应 answered", "alarms"),
    "satphone.callout_unanswered": _k("叫应无人回复", "叫应 unanswered", "alarms"),
    "satphone.callout_resumed": _k("重启后继续叫应", "叫应 resumed", "alarms"),
    "satphone.call_incoming": _k("卫星电话来电", "Satellite call incoming", "satphone"),
    "satphone.call_answered": _k("卫星电话已接听", "Satellite call answered", "satphone"),
    "satphone.call_pin_accepted": _k("来电口令正确", "Caller PIN accepted", "satphone"),
    "satphone.call_refused": _k("卫星电话来电被拒", "Satellite call refused", "satphone"),
    "satphone.call_live": _k("卫星电话现场喊话", "Satellite call live on air", "broadcasts"),
    "satphone.call_placed": _k("卫星电话呼出", "Satellite call placed", "satphone"),
    "satphone.call_to_desk": _k("卫星来电转值班电话", "Satellite call to the desk phone",
                                "satphone"),
    "satphone.call_ended": _k("卫星电话通话结束", "Satellite call ended", "satphone"),
    "satphone.hang_up": _k("挂断卫星电话", "Satellite call hung up", "satphone"),
    # -- SIP: 叫醒, call-in, desk phone ----------------------------------------------------------
    "sip.started": _k("网络电话已启动", "SIP started", "satphone"),
    "sip.unavailable": _k("网络电话不可用", "SIP unavailable", "faults"),
    "sip.registration": _k("网络电话注册", "SIP registration", "satphone", True),
    "sip.call_refused": _k("网络电话来电被拒", "SIP call refused", "satphone"),
    "sip.dtmf": _k("电话按键", "Phone key pressed", "satphone", True),
    "sip.wakeup_started": _k("电话叫醒开始", "Wake-up calls started", "alarms"),
    "sip.wakeup_call": _k("叫醒电话拨出", "Wake-up call placed", "alarms", True),
    "sip.wakeup_call_ended": _k("叫醒电话结束", "Wake-up call ended", "alarms", True),
    "sip.wakeup_call_failed": _k("叫醒电话未接通", "Wake-up call failed", "alarms", True),
    "sip.wakeup_escalated": _k("叫醒：呼叫下一梯队", "Wake-up: next tier", "alarms"),
    "sip.wakeup_answered": _k("叫醒已按键确认", "Wake-up answered", "alarms"),
    "sip.wakeup_unanswered": _k("叫醒无人确认", "Wake-up unanswered", "alarms"),
    "sip.wakeup_unreachable": _k("叫醒电话打不通", "Wake-up unreachable", "alarms"),
    "sip.wakeup_fallback": _k("叫醒改用卫星短信", "Wake-up falls back to SMS", "alarms"),
    "sip.wakeup_resumed": _k("重启后继续叫醒", "Wake-up resumed", "alarms"),
    "sip.callin_answered": _k("网络电话来电已接听", "SIP call-in answered", "satphone"),
    "sip.callin_pin_accepted": _k("来电口令正确", "Caller PIN accepted", "satphone"),
    "sip.callin_refused": _k("网络电话来电被拒", "SIP call-in refused", "satphone"),
    "sip.callin_live": _k("网络电话现场喊话", "SIP call-in live on air", "broadcasts"),
    "sip.callin_ended": _k("网络电话通话结束", "SIP call-in ended", "satphone"),
    "sip.desk_ringing": _k("值班电话响铃", "Desk phone ringing", "satphone"),
    "sip.desk_dialled": _k("值班电话外呼", "Desk phone dialled out", "satphone"),
    "sip.desk_bridged": _k("值班电话已接通", "Desk phone connected", "satphone"),
    "sip.desk_ended": _k("值班电话通话结束", "Desk phone call ended", "satphone"),
}


def words_for(kind: str) -> KindWords:
    """A kind's words; one the registry lacks (an older journal) is shown as it is."""
    return KINDS.get(kind) or KindWords(kind, kind, "station")
