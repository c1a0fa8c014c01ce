"""The CSV reader judges plainly valid rows in one pass and sends everything else to the
contract's decoder: whatever the cells, it must accept and refuse exactly as the decoder
does, with the same values."""

from __future__ import annotations

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contract.topics import TELEMETRY_SCHEMAS, ContractError, Kind, MetricSpec
from ingest.backtest.csv_source import IDENTITY_COLUMNS, METRIC_COLUMNS, cell_value, read_csv
from ingest.backtest.records import BadRow, RowJudge

SPECIAL = ["", "nan", "NaN", "inf", "-inf", "1e309", "true", "false", "True", "1", "0", "-1",
           "3.0", "2.5", "1_0", " 7", "1e-320", "99999999", "-0"]  # fmt: skip
cells = st.one_of(
    st.sampled_from(SPECIAL),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-(10**6), 10**6).map(str),
    st.floats(min_value=-5.0, max_value=400.0).map(repr),  # inside most metrics' ranges
    st.integers(0, 300).map(str),
    st.sampled_from(["true", "false"]),
)


def decoder_verdict(kind: str, row: dict[str, str]) -> dict[str, object] | str:
    """What the contract's decoder alone says of the row: its metrics, or 'bad'."""
    schema = TELEMETRY_SCHEMAS[Kind(kind)]
    judge = RowJudge()
    device = judge.device("s", "b", kind, "d1")
    try:
        values = {n: cell_value(n, c, schema.get(n)) for n, c in row.items() if c}
        return dict(judge.sample(device, 0, values).metrics)
    except ContractError:
        return "bad"


@settings(max_examples=400, deadline=None, derandomize=True)  # the same rows every run
@given(data=st.data(), kind=st.sampled_from([k.value for k in Kind]))
def test_the_reader_agrees_with_the_decoder(data: st.DataObject, kind: str) -> None:
    own = sorted(TELEMETRY_SCHEMAS[Kind(kind)])
    # mostly the kind's own columns (rows that can be valid), now and then a foreign one
    names = st.one_of(st.sampled_from(own), st.sampled_from(METRIC_COLUMNS))
    columns = data.draw(st.lists(names, min_size=1, max_size=5, unique=True))
    values = data.draw(st.lists(cells, min_size=len(columns), max_size=len(columns)))
    row = dict(zip(columns, values, strict=True))
    header = ",".join([*IDENTITY_COLUMNS, *columns])
    line = ",".join(["2027-01-01T00:00:00.000Z", "s", "b", kind, "d1", *(f'"{v}"' for v in values)])
    [record] = list(read_csv(io.StringIO(f"{header}\n{line}\n")))
    expected = decoder_verdict(kind, row)
    if expected == "bad":
        assert isinstance(record, BadRow)
    else:
        assert not isinstance(record, BadRow), record
        assert record.metrics == expected
        assert {k: type(v) for k, v in record.metrics.items()} == {
            k: type(v) for k, v in expected.items()
        }


def _valid(spec: MetricSpec) -> str:
    """A cell inside the metric's contract range."""
    if spec.type is bool:
        return "true"
    low = spec.minimum if spec.minimum is not None else 0.0
    high = spec.maximum if spec.maximum is not None else low + 10.0
    middle = (low + high) / 2
    return str(int(middle)) if spec.type is int else repr(middle)


@pytest.mark.parametrize("kind", [k.value for k in Kind])
def test_a_plainly_valid_row_has_the_decoders_values(kind: str) -> None:
    """Every metric of the kind, each inside its range: the fast path's case."""
    schema = TELEMETRY_SCHEMAS[Kind(kind)]
    row = {name: _valid(spec) for name, spec in sorted(schema.items())}
    header = ",".join([*IDENTITY_COLUMNS, *row])
    line = ",".join(["2027-01-01T00:00:00.000Z", "s", "b", kind, "d1", *row.values()])
    [record] = list(read_csv(io.StringIO(f"{header}\n{line}\n")))
    assert not isinstance(record, BadRow), record
    assert record.metrics == decoder_verdict(kind, row)
