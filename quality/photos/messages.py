"""Why a photo was refused, in English and Chinese, naming the field and the fix."""

from __future__ import annotations

from quality.ledger.messages import Text

ACCEPTED = "JPEG, PNG or HEIC"


def not_an_image(field: str, detected: str | None) -> Text:
    what = f"a {detected} file" if detected else "not an image we can read"
    return Text(
        f"{field}: {what}; send a photo as {ACCEPTED} (the type is read from the file's "
        "bytes, not its name)",
        f"{field}：{'是 ' + detected + ' 文件' if detected else '不是可读取的图片'}；"
        f"请上传 JPEG、PNG 或 HEIC 照片（按文件内容判断类型，而非文件名）",
    )


def too_big(field: str, size: int, limit: int) -> Text:
    return Text(
        f"{field}: {size} bytes is over the limit of {limit} bytes per photo; send a smaller "
        "or lower-resolution photo",
        f"{field}：{size} 字节，超过每张照片 {limit} 字节的上限；请上传更小或分辨率更低的照片",
    )


def too_many_pixels(field: str, pixels: int | None, limit: int) -> Text:
    count = f"{pixels} pixels" if pixels else "the image"
    zh_count = f"{pixels} 像素" if pixels else "图片"
    return Text(
        f"{field}: {count} is over the limit of {limit} pixels; send a lower-resolution photo",
        f"{field}：{zh_count}超过 {limit} 像素的上限；请上传分辨率更低的照片",
    )


def too_many(field: str, count: int, limit: int) -> Text:
    return Text(
        f"{field}: {count} photos, at most {limit} are allowed; send {limit} or fewer",
        f"{field}：{count} 张照片，最多 {limit} 张；请减少到 {limit} 张以内",
    )


def broken(field: str) -> Text:
    return Text(
        f"{field}: the image is damaged or cut short; take or export the photo again",
        f"{field}：图片已损坏或不完整；请重新拍摄或导出照片",
    )


def empty(field: str) -> Text:
    return Text(
        f"{field}: the file is empty; attach the photo itself",
        f"{field}：文件为空；请附上照片本身",
    )


def not_found(photo_id: str) -> Text:
    return Text(f"no photo {photo_id}", f"没有照片 {photo_id}")
