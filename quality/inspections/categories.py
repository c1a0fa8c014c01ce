"""What a person may say is wrong: the fault types the detectors name, plus `other`.

A manual ticket of `door_slowing` is the same incident as a detector's, so it joins (or
is joined by) the detector's ticket on that device; `other` is for what no detector names.

>>> CATEGORIES["door_forced"]["zh-CN"], "other" in CATEGORIES
('门被强行打开', True)
"""

from __future__ import annotations

from typing import Final

Label = dict[str, str]


def _label(zh: str, en: str) -> Label:
    return {"zh-CN": zh, "en": en}


CATEGORIES: Final[dict[str, Label]] = {
    # elevators
    "entrapment": _label("电梯困人", "elevator entrapment"),
    "door_slowing": _label("电梯门开关变慢", "elevator door slowing"),
    "door_reversals": _label("电梯门反复重开", "elevator door reversals"),
    "levelling_error": _label("电梯平层误差", "levelling error"),
    "motor_current_rising": _label("电机电流上升", "motor current rising"),
    "car_vibration_rising": _label("轿厢振动增大", "car vibration rising"),
    "fault_code": _label("设备故障码", "fault code"),
    # lighting
    "lamp_failure": _label("灯具损坏", "lamp failure"),
    "flicker": _label("灯具闪烁", "flicker"),
    "illuminance_low": _label("照度不足（照明盲区）", "illuminance low (lighting blind spot)"),
    "lights_left_on": _label("照明未按时关闭", "lights left on"),
    # pumps
    "dry_running": _label("水泵干转", "pump dry running"),
    "cavitation": _label("水泵气蚀", "pump cavitation"),
    "bearing_wear": _label("轴承磨损", "bearing wear"),
    "leakage": _label("漏水", "leakage"),
    "pump_anomaly": _label("水泵运行异常", "pump anomaly"),
    # access control
    "door_forced": _label("门被强行打开", "door forced open"),
    "door_held_open": _label("门长时间未关", "door held open"),
    "lock_slowing": _label("门锁动作变慢", "lock slowing"),
    "reader_offline": _label("读卡器离线", "card reader offline"),
    "credential_brute_force": _label("反复刷无效卡", "repeated invalid credentials"),
    # any device
    "offline": _label("设备离线", "device offline"),
    "out_of_range": _label("读数超出范围", "reading out of range"),
    "stuck_sensor": _label("传感器读数不变", "stuck sensor"),
    "other": _label("其他问题", "other"),
}
