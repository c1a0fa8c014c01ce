"""The scenario file as pydantic models: every key, type and range a scenario may use.

This is the schema scenario authors see (`facmon simulate --schema`); references between
entries (a fault's device, a fault type the device's kind can have) are checked after it,
in `simulators/scenario.py`.

>>> doc = ScenarioDocument.model_validate({"devices": [{"id": "p1", "kind": "pump"}]})
>>> doc.devices[0].building, doc.speed
('main', 1.0)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, Union

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    WithJsonSchema,
    create_model,
)

from contract.topics import ContractError, validate_identifier
from simulators.durations import (
    DURATION_SCHEMA,
    START_EXAMPLE,
    Length,
    Offset,
    parse_start,
)
from simulators.nuisance_params import LightingNuisance, Nuisance
from simulators.scenario_params import (
    FAULT_PARAMS,
    ElevatorParams,
    LightingParams,
    NoParams,
    Params,
    PumpParams,
)


def _identifier(value: str, info: ValidationInfo) -> str:
    name = info.field_name or "identifier"
    if not value:
        raise ValueError(f"{name} is empty; write one like pump-01")
    try:
        return validate_identifier(value, name)
    except ContractError as exc:
        raise ValueError(str(exc)) from None


Identifier = Annotated[
    str,
    AfterValidator(_identifier),
    WithJsonSchema(
        {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,63}$"}, mode="validation"
    ),
]
Start = Annotated[
    str | float,
    BeforeValidator(parse_start),
    WithJsonSchema(
        {
            "anyOf": [*DURATION_SCHEMA["anyOf"], {"type": "string", "format": "date-time"}],
            "description": START_EXAMPLE,
        },
        mode="validation",
    ),
]


class Entry(BaseModel):
    """Exact keys, no type coercion: a typo is an error, not a silent default."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


# -- devices -----------------------------------------------------------------------------


class Device(Entry):
    example: ClassVar[str] = "{id: pump-01, kind: pump, building: plant}"

    id: Identifier = Field(description="unique device id, like pump-01")
    building: Identifier = "main"
    nuisance: Nuisance | None = Field(
        None, description="what real equipment adds to the healthy signal (no fault)"
    )


class ElevatorDevice(Device):
    kind: Literal["elevator"]
    params: ElevatorParams | None = None


class LightingDevice(Device):
    kind: Literal["lighting"]
    params: LightingParams | None = None
    nuisance: LightingNuisance | None = Field(  # type: ignore[assignment]
        None, description="what real lighting adds: also lamp warm-up and dimming"
    )


class PumpDevice(Device):
    kind: Literal["pump"]
    params: PumpParams | None = None


class AccessDevice(Device):
    kind: Literal["access"]
    params: NoParams | None = None


AnyDevice = Annotated[
    ElevatorDevice | LightingDevice | PumpDevice | AccessDevice, Field(discriminator="kind")
]

# -- faults ------------------------------------------------------------------------------


class Fault(Entry):
    example: ClassVar[str] = "{device: pump-01, type: bearing_wear, at: 5m}"

    device: str = Field(description="the id of a device under 'devices'")
    type: str
    at: Offset = Field(0.0, description="when the fault begins, from the start of the run")
    for_: Length | None = Field(None, alias="for", description="how long it lasts (default: on)")
    params: Params | None = None


def _fault_model(fault_type: str, params: type[Params]) -> type[Fault]:
    name = "".join(word.title() for word in fault_type.split("_")) + "Fault"
    tag: Any = Literal[fault_type]
    optional: Any = params | None
    model: type[Fault] = create_model(
        name, __base__=Fault, type=(tag, ...), params=(optional, None)
    )
    return model


FAULT_MODELS: dict[str, type[Fault]] = {
    fault_type: _fault_model(fault_type, params) for fault_type, params in FAULT_PARAMS.items()
}
if TYPE_CHECKING:
    AnyFault = Fault
else:
    AnyFault = Annotated[Union[tuple(FAULT_MODELS.values())], Field(discriminator="type")]  # noqa: UP007

# -- expectations --------------------------------------------------------------------------


class Expectation(Entry):
    example: ClassVar[str] = "{device: pump-01, fault_type: bearing_wear, within: 1h}"

    device: str = Field(description="the id of a device under 'devices'")
    fault_type: str = Field(description="what a detector reports for the device's kind")
    severity: Literal["critical", "major", "minor"] = "major"
    within: Length = Field(description="a ticket must open this long after the fault begins")


# -- the document --------------------------------------------------------------------------


class ScenarioDocument(Entry):
    """Which devices exist, which faults strike when, which tickets must follow."""

    model_config = ConfigDict(title="facmon scenario")

    name: str | None = Field(None, description="default: the file name without .yaml")
    description: str = ""
    site: Identifier = "demo"
    start: Start = 0.0
    speed: float = Field(
        1.0, gt=0, allow_inf_nan=False, description="simulated seconds per real second, like 60"
    )
    rate_hz: float = Field(
        1.0, gt=0, allow_inf_nan=False, description="samples per simulated second, like 0.5"
    )
    duration: Length | None = Field(None, description="how long to run (default: forever)")
    will_delay: Length | None = Field(
        None, description="MQTT v5 will delay of every device: a restart within it is no outage"
    )
    devices: list[AnyDevice] = []
    faults: list[AnyFault] | None = None
    expect: list[Expectation] | None = None


def scenario_json_schema() -> dict[str, Any]:
    """The JSON Schema of a scenario file, for editors and authors."""
    schema = ScenarioDocument.model_json_schema(mode="validation")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
