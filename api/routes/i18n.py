"""The translation table for the browser: one language's every key, no sign-in needed
(the board's sign-in page is translated too)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Path
from fastapi.responses import JSONResponse

from quality.i18n import LANGUAGES, catalog, negotiate, parse_language

router = APIRouter(tags=["i18n"])


@router.get("/api/i18n")
def preferred_language(
    accept_language: Annotated[str | None, Header()] = None,
) -> dict[str, object]:
    """The language the browser asks for, among those the product speaks."""
    return {"language": negotiate(accept_language), "languages": list(LANGUAGES)}


@router.get("/api/i18n/{lang}")
def translations(
    lang: Annotated[str, Path(max_length=16, description="zh-CN or en")],
) -> JSONResponse:
    """Every text of the product in `lang` (anything starting 'zh' is zh-CN, 'en' en)."""
    chosen = parse_language(lang)
    return JSONResponse(
        {"language": chosen, "texts": catalog(chosen)},
        headers={"Cache-Control": "no-cache"},
    )
