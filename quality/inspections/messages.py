"""What a person reads about routes, rounds and manual tickets, in English and Chinese,
in the glossary's words (巡检路线, 巡检, 发现问题)."""

from __future__ import annotations

from quality.ledger.messages import Text

MANUAL_DETECTOR_PREFIX = "manual:"


def unknown_category(value: str) -> Text:
    return Text(
        f"category: {value!r} is not a known fault type; use one listed by "
        "GET /api/inspections/categories, or 'other'",
        f"category：{value!r} 不是已知的问题类别；请使用 GET /api/inspections/categories "
        "列出的类别，或 'other'",
    )


def where_missing() -> Text:
    return Text(
        "device_id or place: say where the finding is, a device (site and device_id) or a "
        "place (site, building and place; floor if known)",
        "device_id 或 place：请说明问题位置，设备（site 与 device_id）或地点"
        "（site、building 与 place，可加 floor）",
    )


def unknown_device(site: str, device_id: str) -> Text:
    return Text(
        f"device_id: no device {device_id!r} at site {site!r} in the equipment ledger or "
        "the device registry; add it to the ledger, or give building and kind",
        f"device_id：设备台账和设备注册表中没有站点 {site!r} 的设备 {device_id!r}；"
        "请先录入设备台账，或同时提供 building 与 kind",
    )


def route_not_found(route_id: int) -> Text:
    return Text(f"no inspection route {route_id}", f"没有巡检路线 {route_id}")


def round_not_found(round_id: int) -> Text:
    return Text(f"no inspection round {round_id}", f"没有巡检记录 {round_id}")


def route_in_use(route_id: int) -> Text:
    return Text(
        f"inspection route {route_id} has rounds, so it is kept for their record; "
        "create a new route instead of deleting this one",
        f"巡检路线 {route_id} 已有巡检记录，需保留；请新建路线而不是删除",
    )


def round_finished(round_id: int) -> Text:
    return Text(
        f"inspection round {round_id} is finished; start a new round to record more",
        f"巡检 {round_id} 已结束；如需继续记录，请开始新的巡检",
    )


def no_such_stop(stop: int, stops: int) -> Text:
    return Text(
        f"stop: {stop} is not a stop of this round; use 0 to {stops - 1}",
        f"stop：{stop} 不是本次巡检的点位；请使用 0 到 {stops - 1}",
    )


def no_such_item(item: int, items: int) -> Text:
    return Text(
        f"item: {item} is not an item of this stop's checklist; use 0 to {items - 1}",
        f"item：{item} 不是该点位检查表中的项目；请使用 0 到 {items - 1}",
    )


def already_answered(stop: int, item: int) -> Text:
    return Text(
        f"stop {stop}, item {item} is already answered in this round",
        f"本次巡检中点位 {stop} 的项目 {item} 已有回答",
    )


def bad_answer(kind: str) -> Text:
    if kind == "pass_fail":
        return Text(
            "value: answer 'pass' or 'fail'", "value：请回答 'pass'（合格）或 'fail'（不合格）"
        )
    if kind == "number":
        return Text("value: answer a number, such as 3.5", "value：请填写数字，例如 3.5")
    return Text("value: answer with some text", "value：请填写文字")


def answered_in_future(answered_at: str) -> Text:
    return Text(
        f"answered_at: {answered_at} is in the future; send the time the item was checked",
        f"answered_at：{answered_at} 是未来时间；请填写实际检查的时间",
    )


def failed_item_summary(question: str, answer: str) -> Text:
    return Text(
        f"inspection: {question} - answered {answer}",
        f"巡检发现问题：{question}，结果 {answer}",
    )


def time_out_of_range(field: str) -> Text:
    return Text(
        f"{field}: the time cannot be shown in UTC; send a date between the years 1 and 9999",
        f"{field}：该时间无法换算为 UTC；请填写公元 1 年至 9999 年之间的时间",
    )
