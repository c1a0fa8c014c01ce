"""The equipment ledger (设备台账) and its maintenance contractors (维保单位).

Viewers read; the quality role (and admin above it) writes: the ledger is the quality
department's register. A device's path names its site, `…/equipment/{site}/{device_id}`,
since `door-1` may exist at two sites. Equipment is never deleted: `…/decommission`
records when and why it left service.

Errors name the field and the fix in English and Chinese: a refused body answers 422 with
one entry per problem (`field`, `en`, `zh`, and FastAPI's `loc`, `msg`, `type`); other
errors carry both languages in `detail`. Imports take a CSV or .xlsx file as the multipart
field `file` (within the API's body limit; larger ledgers go through `facmon ledger import`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Coroutine
from typing import Annotated, Any, Final, Literal

from fastapi import APIRouter, File, HTTPException, Path, Query, Request, Response, UploadFile
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field

from api.deps import MAX_ID, Offset, QualityDep, StoresDep, ViewerDep
from api.routing import AuthenticatedRoute
from api.schemas import Problem, Text
from quality.ledger import (
    MEDIA_TYPES,
    Conflict,
    ContractorCreate,
    ContractorRecord,
    ContractorUpdate,
    Decommission,
    EquipmentCreate,
    EquipmentFilter,
    EquipmentRecord,
    EquipmentUpdate,
    Format,
    ImportReport,
    Invalid,
    LedgerError,
    LedgerFileError,
    LedgerStore,
    NotFound,
    describe,
    export_bytes,
    format_of,
    import_file,
)
from quality.ledger.messages import Text as Words
from quality.ledger.models import KINDS
from quality.ledger.validation import IDENTIFIER_PATTERN

Handler = Callable[[Request], Coroutine[Any, Any, Response]]
_FORMAT_BY_TYPE: dict[str, Format] = {
    "text/csv": "csv",
    "application/csv": "csv",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
}


def _ascii_json(content: Any, status_code: int) -> Response:
    """JSON with non-ASCII escaped: an echoed input may hold an unpaired surrogate."""
    body = json.dumps(content, allow_nan=False, separators=(",", ":"), default=str)
    return Response(body.encode("ascii"), status_code, media_type="application/json")


def _problem_entry(error: dict[str, Any]) -> dict[str, Any]:
    loc = list(error.get("loc", ()))
    skip = 1 if loc and loc[0] in {"body", "query", "path"} else 0
    problem = describe(error, skip_loc=skip)
    return {
        "type": error.get("type", ""),
        "loc": [str(part) for part in loc],
        "field": problem.field,
        "msg": problem.message.both(),
        "en": problem.message.en,
        "zh": problem.message.zh,
    }


class LedgerRoute(AuthenticatedRoute):
    """Refused requests answer with the ledger's bilingual field problems."""

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()

        async def explained(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                return _ascii_json({"detail": [_problem_entry(dict(e)) for e in exc.errors()]}, 422)

        return explained


router = APIRouter(prefix="/api/ledger", tags=["ledger"], route_class=LedgerRoute)

# A ledger file's own body cap (`api.body_limit.RouteCap`): 100,000 devices as CSV are
# about 20 MB; every other request keeps the API's small cap.
IMPORT_PATH: Final = re.compile(r"^/api/ledger/import$")
IMPORT_MAX_BYTES: Final = 32 * 1024 * 1024


class LedgerInvalid(BaseModel):
    """422: the problems, each naming its field and the fix in English and Chinese; for an
    import, the report of every row's problems."""

    detail: str | list[dict[str, Any]] | dict[str, Any]


class EquipmentPage(BaseModel):
    items: list[EquipmentRecord]
    total: int = Field(description="equipment matching the filters, over all pages")
    limit: int
    offset: int


class RowProblemPublic(BaseModel):
    line: int = Field(description="the line in the file, the header being line 1")
    column: str = Field(description="the column as the file's header names it")
    en: str
    zh: str


class ImportResult(BaseModel):
    rows: int
    imported: int
    created: int
    updated: int
    skipped: int = Field(description="rows not imported because of their problems")
    applied: bool = Field(description="false when nothing was written")
    problems: list[RowProblemPublic]
    ignored_columns: list[str]
    contractors_created: list[str]


SiteId = Annotated[
    str, Path(min_length=1, max_length=64, pattern=IDENTIFIER_PATTERN, description="site")
]
DeviceId = Annotated[
    str,
    Path(min_length=1, max_length=64, pattern=IDENTIFIER_PATTERN, description="device id"),
]
ContractorId = Annotated[
    int, Path(ge=1, le=MAX_ID, description="contractor id, as GET /api/ledger/contractors lists")
]
Filter = Annotated[Text | None, Query(max_length=128)]
KindQuery = Literal["elevator", "lighting", "pump", "access"]
StatusQuery = Literal["in_service", "under_maintenance", "decommissioned", "pending"]
assert set(KINDS) == set(KindQuery.__args__)  # type: ignore[attr-defined]

READ_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": Problem, "description": "no such device or contractor"},
    422: {"model": LedgerInvalid, "description": "a field is wrong: each problem says the fix"},
}
WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    **READ_ERRORS,
    409: {"model": Problem, "description": "the record exists already, or is decommissioned"},
}


def _store(stores: StoresDep) -> LedgerStore:
    return LedgerStore(stores.engine)


def _refused(error: LedgerError) -> HTTPException:
    if isinstance(error, NotFound):
        return HTTPException(404, error.message.both())
    if isinstance(error, Conflict):
        return HTTPException(409, error.message.both())
    if isinstance(error, Invalid) and error.field:
        entry = {
            "type": "ledger_value",
            "loc": ["body", error.field],
            "field": error.field,
            "msg": error.message.both(),
            "en": error.message.en,
            "zh": error.message.zh,
        }
        return HTTPException(422, [entry])
    return HTTPException(422, error.message.both())


# Equipment


@router.get("/equipment", response_model=EquipmentPage, responses=READ_ERRORS)
def list_equipment(
    stores: StoresDep,
    _who: ViewerDep,
    site: Filter = None,
    building: Filter = None,
    floor: Filter = None,
    kind: KindQuery | None = None,
    status: StatusQuery | None = None,
    contractor: Filter = None,
    q: Annotated[
        Text | None,
        Query(max_length=128, description="text in the name, the location or the device id"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Offset = 0,
) -> EquipmentPage:
    flt = EquipmentFilter(site, building, floor, kind, status, contractor, q)
    items, total = _store(stores).search(flt, limit, offset)
    return EquipmentPage(items=items, total=total, limit=limit, offset=offset)


@router.post("/equipment", response_model=EquipmentRecord, status_code=201, responses=WRITE_ERRORS)
def create_equipment(body: EquipmentCreate, stores: StoresDep, _who: QualityDep) -> EquipmentRecord:
    try:
        return _store(stores).create(body)
    except LedgerError as error:
        raise _refused(error) from None


@router.get("/equipment/{site}/{device_id}", response_model=EquipmentRecord, responses=READ_ERRORS)
def get_equipment(
    site: SiteId, device_id: DeviceId, stores: StoresDep, _who: ViewerDep
) -> EquipmentRecord:
    found = _store(stores).get(site, device_id)
    if found is None:
        raise HTTPException(
            404,
            Words(
                f"no device {device_id!r} at site {site!r} in the ledger",
                f"设备台账中没有项目 {site!r} 的设备 {device_id!r}",
            ).both(),
        )
    return found


@router.patch(
    "/equipment/{site}/{device_id}", response_model=EquipmentRecord, responses=WRITE_ERRORS
)
def update_equipment(
    site: SiteId, device_id: DeviceId, body: EquipmentUpdate, stores: StoresDep, _who: QualityDep
) -> EquipmentRecord:
    try:
        return _store(stores).update(site, device_id, body)
    except LedgerError as error:
        raise _refused(error) from None


@router.post(
    "/equipment/{site}/{device_id}/decommission",
    response_model=EquipmentRecord,
    responses=WRITE_ERRORS,
)
def decommission_equipment(
    site: SiteId,
    device_id: DeviceId,
    stores: StoresDep,
    _who: QualityDep,
    body: Decommission | None = None,
) -> EquipmentRecord:
    """Take a device out of service for good (报废); its record stays, with the time."""
    try:
        return _store(stores).decommission(site, device_id, body or Decommission())
    except LedgerError as error:
        raise _refused(error) from None


# Contractors


@router.get("/contractors", response_model=list[ContractorRecord], responses=READ_ERRORS)
def list_contractors(
    stores: StoresDep, _who: ViewerDep, active: bool | None = None
) -> list[ContractorRecord]:
    return _store(stores).contractors(active)


@router.post(
    "/contractors", response_model=ContractorRecord, status_code=201, responses=WRITE_ERRORS
)
def create_contractor(
    body: ContractorCreate, stores: StoresDep, _who: QualityDep
) -> ContractorRecord:
    try:
        return _store(stores).create_contractor(body)
    except LedgerError as error:
        raise _refused(error) from None


@router.patch(
    "/contractors/{contractor_id}", response_model=ContractorRecord, responses=WRITE_ERRORS
)
def update_contractor(
    contractor_id: ContractorId, body: ContractorUpdate, stores: StoresDep, _who: QualityDep
) -> ContractorRecord:
    try:
        return _store(stores).update_contractor(contractor_id, body)
    except LedgerError as error:
        raise _refused(error) from None


# Files


def _upload_format(upload: UploadFile) -> Format:
    try:
        return format_of(upload.filename or "")
    except LedgerFileError as error:
        content_type = (upload.content_type or "").split(";")[0].strip().lower()
        if content_type in _FORMAT_BY_TYPE:
            return _FORMAT_BY_TYPE[content_type]
        raise HTTPException(415, error.message.both()) from None


@router.post(
    "/import",
    response_model=ImportResult,
    responses={
        413: {"model": Problem, "description": "the file is over 32 MiB"},
        415: {"model": Problem, "description": "not a .csv or .xlsx file"},
        422: {
            "model": LedgerInvalid,
            "description": "the file cannot be read as a ledger, or rows have problems "
            "(then nothing is imported and `detail.report` lists them)",
        },
    },
)
def import_ledger(
    stores: StoresDep,
    _who: QualityDep,
    file: Annotated[UploadFile, File(description="the ledger, .csv or .xlsx")],
    skip_errors: Annotated[
        bool, Query(description="import the good rows of a file that has wrong ones")
    ] = False,
) -> ImportResult | Response:
    """Upsert every row of a ledger file by (site, device_id); a file with any wrong row
    imports nothing unless `skip_errors` is set."""
    fmt = _upload_format(file)
    data = file.file.read()
    try:
        report = import_file(stores.engine, data, fmt, skip_errors=skip_errors)
    except LedgerFileError as error:
        raise HTTPException(422, error.message.both()) from None
    result = _result(report)
    if not report.applied:
        message = Words(
            f"{report.skipped} of {report.rows} rows have problems, so nothing was imported: "
            "fix them, or import the good rows with skip_errors=true",
            f"{report.rows} 行中有 {report.skipped} 行有问题，因此未导入任何数据："
            "请修正，或用 skip_errors=true 只导入正确的行",
        )
        detail = {"message": message.both(), "report": result.model_dump()}
        return _ascii_json({"detail": detail}, 422)
    return result


def _result(report: ImportReport) -> ImportResult:
    data = report.as_dict()
    return ImportResult(**data)


@router.get(
    "/export",
    response_class=Response,
    responses={
        200: {
            "description": "the ledger file, with the import's English column names",
            "content": {
                MEDIA_TYPES["csv"]: {"schema": {"type": "string"}},
                MEDIA_TYPES["xlsx"]: {"schema": {"type": "string", "format": "binary"}},
            },
        },
        422: {"model": LedgerInvalid, "description": "an unknown format"},
    },
)
def export_ledger(
    stores: StoresDep,
    _who: ViewerDep,
    format: Literal["csv", "xlsx"] = "csv",
    site: Filter = None,
) -> Response:
    data = export_bytes(stores.engine, format, site)
    # The site goes into a header: only an identifier's safe characters may.
    name = (
        f"ledger-{site}.{format}"
        if site and re.fullmatch(IDENTIFIER_PATTERN, site)
        else (f"ledger.{format}")
    )
    return Response(
        data,
        media_type=MEDIA_TYPES[format],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
