"""The equipment ledger (设备台账): every device the quality department answers for, where it
is, what it is and who maintains it (维保单位), with import and export as CSV and Excel.

    store = LedgerStore(engine)
    store.create(EquipmentCreate(site="hq", building="t1", kind="access",
                                 device_id="door-1", name="Lobby door"))
    report = import_file(engine, Path("ledger.xlsx").read_bytes(), "xlsx")
"""

from quality.ledger.exporter import MEDIA_TYPES, export_bytes, export_ledger
from quality.ledger.importer import ImportReport, RowProblem, import_file, import_table
from quality.ledger.messages import Text, language_of, terminal_language
from quality.ledger.models import Contractor, Criticality, Equipment, Status
from quality.ledger.records import ContractorRecord, EquipmentRecord
from quality.ledger.store import (
    Conflict,
    EquipmentFilter,
    Invalid,
    LedgerError,
    LedgerStore,
    NotFound,
)
from quality.ledger.table import FORMATS, Format, LedgerFileError, format_of
from quality.ledger.validation import (
    ContractorCreate,
    ContractorUpdate,
    Decommission,
    EquipmentCreate,
    EquipmentUpdate,
    Problem,
    describe,
    problems_of,
)

__all__ = [
    "FORMATS",
    "MEDIA_TYPES",
    "Conflict",
    "Contractor",
    "ContractorCreate",
    "ContractorRecord",
    "ContractorUpdate",
    "Criticality",
    "Decommission",
    "Equipment",
    "EquipmentCreate",
    "EquipmentFilter",
    "EquipmentRecord",
    "EquipmentUpdate",
    "Format",
    "ImportReport",
    "Invalid",
    "LedgerError",
    "LedgerFileError",
    "LedgerStore",
    "NotFound",
    "Problem",
    "RowProblem",
    "Status",
    "Text",
    "describe",
    "export_bytes",
    "export_ledger",
    "format_of",
    "import_file",
    "import_table",
    "language_of",
    "problems_of",
    "terminal_language",
]
