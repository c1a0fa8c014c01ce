"""The detector configuration file: precedence, and errors that name the line and the fix."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import annotated_types
import pytest

from contract.topics import DeviceRef
from detectors.config_file import (
    DetectorConfigError,
    _catalogue,
    content_version,
    detectors_of,
    load_detector_config,
    parse_detector_config,
)
from detectors.lighting_lamp import LampFailureConfig
from detectors.offline import OfflineConfig
from detectors.registry import KIND_DETECTORS, bank_defaults

ROOT = Path(__file__).resolve().parents[2]
LAMP = "lighting_lamp_failure"
PUMP = DeviceRef("ims", "test2", "pump", "t2-b1")
LAYERED = """\
version: 7
kinds:
  lighting:
    lighting_lamp_failure: {min_ratio: 0.5, persist: 6, window_s: 7}
sites:
  ims:
    lighting:
      lighting_lamp_failure: {min_ratio: 0.45, persist: 7}
buildings:
  ims/test2:
    lighting:
      lighting_lamp_failure: {min_ratio: 0.4}
devices:
  ims/c1:
    lighting_lamp_failure: {min_ratio: 0.3}
"""


def lighting(site: str, building: str, device_id: str) -> DeviceRef:
    return DeviceRef(site, building, "lighting", device_id)


@pytest.mark.parametrize(
    ("device", "expected"),
    [
        # (min_ratio, persist, window_s): each from the most specific entry that sets it
        (lighting("other", "b", "c1"), (0.5, 6, 7)),  # kind only (ims/c1 is another site)
        (lighting("ims", "b", "c2"), (0.45, 7, 7)),  # site over kind
        (lighting("ims", "test2", "c2"), (0.4, 7, 7)),  # building over site
        (lighting("ims", "test2", "c1"), (0.3, 7, 7)),  # device over building
    ],
)
def test_the_most_specific_entry_wins_parameter_by_parameter(
    device: DeviceRef, expected: tuple[float, int, int]
) -> None:
    file = parse_detector_config(LAYERED, "layered.yaml")
    config = file.resolve(device)[LAMP]
    assert (config.min_ratio, config.persist, config.window_s) == expected  # type: ignore[attr-defined]
    assert config.learn_s == 60  # type: ignore[attr-defined]  # never set: the default


def test_explain_names_where_each_parameter_came_from() -> None:
    file = parse_detector_config(LAYERED, "layered.yaml")
    lamp = file.explain(lighting("ims", "test2", "c1"))[LAMP]
    explained = {name: (p.value, p.source) for name, p in lamp.items()}
    assert explained.keys() == LampFailureConfig.model_fields.keys()
    assert {name: explained[name] for name in ("min_ratio", "persist", "window_s", "learn_s")} == {
        "min_ratio": (0.3, "device"),
        "persist": (7, "site"),
        "window_s": (7.0, "kind"),
        "learn_s": (60.0, "default"),
    }
    assert file.version == "7"


def test_every_detector_of_the_kind_is_resolved_and_others_are_untouched() -> None:
    file = parse_detector_config(LAYERED, "layered.yaml")
    resolved = file.resolve(PUMP)
    assert set(resolved) == {cls.name for cls in (*KIND_DETECTORS["pump"],)} | {"offline"}
    for cls in detectors_of("pump"):
        assert resolved[cls.name] == cls.Config.defaults()


def test_the_service_defaults_sit_under_the_file() -> None:
    base = bank_defaults(600_000, 0)
    text = "devices: {ims/t2-b1: {offline: {will_grace_ms: 5000}}}\n"
    file = parse_detector_config(text, "offline.yaml")
    offline = file.explain(PUMP, base)["offline"]
    assert (offline["offline_after_ms"].value, offline["offline_after_ms"].source) == (
        600_000,
        "default",
    )
    assert (offline["will_grace_ms"].value, offline["will_grace_ms"].source) == (5000, "device")
    assert file.resolve(PUMP, base)["offline"] == OfflineConfig(
        offline_after_ms=600_000, will_grace_ms=5000
    )


def test_without_a_version_the_content_hash_is_the_version() -> None:
    text = "kinds: {lighting: {lighting_lamp_failure: {persist: 3}}}\n"
    assert parse_detector_config(text, "a.yaml").version == content_version(text)
    assert parse_detector_config(text + "# a comment\n", "a.yaml").version != content_version(text)
    assert parse_detector_config("", "empty.yaml").resolve(PUMP)["offline"] == (
        OfflineConfig.defaults()
    )


def problems(text: str) -> list[str]:
    with pytest.raises(DetectorConfigError) as caught:
        parse_detector_config(text, "site.yaml")
    return str(caught.value).splitlines()


def test_an_unknown_parameter_names_the_file_line_path_and_allowed_names() -> None:
    [message] = problems("kinds:\n  lighting:\n    lighting_lamp_failure:\n      min_ration: 0.5\n")
    assert message.startswith(
        "site.yaml: kinds.lighting.lighting_lamp_failure.min_ration: unknown parameter "
        "'min_ration' (did you mean 'min_ratio'?); lighting_lamp_failure takes settle_s, "
        "learn_s, min_learn_samples, window_s"
    )
    assert message.endswith("(line 4)")


def test_an_unknown_detector_lists_the_detectors_of_that_kind() -> None:
    [message] = problems("sites:\n  ims:\n    lighting:\n      lamp_failure: {}\n")
    assert "sites.ims.lighting.lamp_failure: unknown detector 'lamp_failure'" in message
    assert "(did you mean 'lighting_lamp_failure'?)" in message
    for cls in detectors_of("lighting"):
        assert cls.name in message
    assert "pump_bearing_wear" not in message
    assert message.endswith("(line 4)")


def test_a_detector_under_a_kind_it_does_not_watch() -> None:
    [message] = problems("kinds:\n  pump:\n    lighting_flicker: {min_cv: 0.2}\n")
    assert "kinds.pump.lighting_flicker: lighting_flicker does not watch pump devices" in message
    assert "pump_bearing_wear" in message and message.endswith("(line 3)")


def test_a_wrongly_typed_value_is_refused_with_its_line() -> None:
    # YAML "0.5" in quotes is text: strict, as the Config is for a file
    [text_number] = problems(
        'kinds:\n  lighting:\n    lighting_lamp_failure:\n      min_ratio: "0.5"\n'
    )
    assert "kinds.lighting.lighting_lamp_failure.min_ratio: input should be a valid number" in (
        text_number
    )
    assert "got '0.5'; min_ratio is float, default 0.6 (line 4)" in text_number
    [fraction] = problems("kinds: {lighting: {lighting_lamp_failure: {persist: 2.5}}}\n")
    assert "persist is int, default 5" in fraction and fraction.endswith("(line 1)")


def test_a_value_out_of_range_states_the_range() -> None:
    bounded = [
        (cls, name, limit)
        for cls in _catalogue().values()
        for name, info in cls.Config.model_fields.items()
        for limit in info.metadata
        if isinstance(limit, annotated_types.Ge)
    ]
    if not bounded:
        pytest.skip("no detector parameter declares a lower bound")
    cls, name, limit = bounded[0]
    kind = sorted(cls.kinds)[0]
    low = cast(int, limit.ge) - 1  # float or int, as the bound is
    [message] = problems(f"kinds:\n  {kind}:\n    {cls.name}:\n      {name}: {low}\n")
    assert f"kinds.{kind}.{cls.name}.{name}: " in message
    assert "input should be greater than or equal to" in message
    assert f"got {low}; {name} is" in message and f"at least {limit.ge}" in message
    assert message.endswith("(line 4)")


def test_every_problem_is_listed_in_document_order() -> None:
    found = problems(
        "version: [1]\n"
        "kind: {}\n"
        "kinds:\n  pmp: {}\n"
        "buildings:\n  ims: {}\n"
        "devices:\n  ims/x: {offline: {offline_after_ms: soon}}\n"
    )
    assert [line.rsplit("(line ", 1)[1] for line in found] == ["1)", "2)", "4)", "6)", "8)"]
    assert "version: must be a number or a short text" in found[0]
    assert "unknown section 'kind' (did you mean 'kinds'?)" in found[1]
    assert "unknown kind 'pmp' (did you mean 'pump'?); use elevator, lighting, pump" in found[2]
    assert "buildings.ims: 'ims' must be 'site/name', one '/'" in found[3]
    assert "devices.ims/x.offline.offline_after_ms: input should be a valid integer" in found[4]


def test_yaml_syntax_errors_and_missing_files() -> None:
    [syntax] = problems("kinds:\n  pump: {pump_bearing_wear: {limit_factor: 1.8}\n")
    assert syntax.startswith("site.yaml: not valid YAML:") and "(line 3)" in syntax
    with pytest.raises(DetectorConfigError, match=r"nowhere\.yaml: cannot read"):
        load_detector_config("/nonexistent/nowhere.yaml")


def test_the_shipped_example_file_is_valid() -> None:
    example = load_detector_config(ROOT / "deploy" / "detectors.example.yaml")
    explained = example.explain(PUMP)
    assert explained["offline"]["offline_after_ms"].source == "site"
    assert {p.source for p in explained["pump_bearing_wear"].values()} >= {"device"}


def test_the_documented_example_is_valid() -> None:
    text = (ROOT / "docs" / "configuration.md").read_text()
    section = text.split("## Detector parameters per kind, site and device", 1)[1]
    snippet = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    assert parse_detector_config(snippet, "docs/configuration.md").version == "3"
