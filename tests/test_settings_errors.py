"""Settings errors name the FACMON_* variable, its problem and the fix, and echo nothing else."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.quality.tickets.conftest import POSTGRES_URL


def facmon(
    args: list[str], env: dict[str, str], cwd: Path, prelude: str = ""
) -> subprocess.CompletedProcess[str]:
    """The real CLI in a child process, with only the given FACMON_* variables set."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FACMON_")}
    code = f"import sys\n{prelude}\nfrom facmon.cli import main\nsys.exit(main(sys.argv[1:]))"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        env={**clean, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("variable", "value", "problem", "fix"),
    [
        ("FACMON_API_PORT", "70000", "is out of range", "a port from 1 to 65535"),
        ("FACMON_API_PORT", "eighty", "is not a whole number", "a port from 1 to 65535"),
        ("FACMON_EMBEDDED_BROKER_PORT", "-1", "is out of range", "a port from 0 to 65535"),
        ("FACMON_AUTO_CLOSE_VERIFIED", "maybe", "is not true or false", "true or false"),
        (
            "FACMON_INGEST_WORKERS",
            "99",
            "is out of range: it must be at most 64",
            "a whole number from 0 to 64",
        ),
    ],
)
def test_a_bad_value_names_the_variable_the_problem_and_the_fix(
    tmp_path: Path, variable: str, value: str, problem: str, fix: str
) -> None:
    secret = "hunter2-do-not-echo"
    env = {variable: value, "FACMON_INFLUX_PASSWORD": secret, "FACMON_DATA_DIR": str(tmp_path)}
    result = facmon(["run"], env, tmp_path)
    assert result.returncode == 2, result.stderr
    assert f"{variable}={value} {problem}" in result.stderr
    assert (
        f"Set {variable} to {fix}" in result.stderr and "unset it for the default" in result.stderr
    )
    assert "Traceback" not in result.stderr and "API on" not in result.stdout
    for leak in ("pydantic", "errors.pydantic.dev", secret, "input_value", "influx_password"):
        assert leak not in result.stderr
    # Nothing started: no database was created for a service that never ran.
    assert not (tmp_path / "facmon.sqlite").exists()


def test_an_error_across_settings_echoes_no_other_setting(tmp_path: Path) -> None:
    secret = "hunter2-do-not-echo"
    env = {
        "FACMON_WEBHOOK_URL": "http://127.0.0.1:9/hook",
        "FACMON_WEBHOOK_SECRET": "short",
        "FACMON_INFLUX_PASSWORD": secret,
    }
    result = facmon(["token", "create", "--role", "viewer"], env, tmp_path)
    assert result.returncode == 2
    assert "FACMON_WEBHOOK_SECRET must be set to a random value" in result.stderr
    for leak in (secret, "short", "input_value", "pydantic"):
        assert leak not in result.stderr


def test_a_secret_value_is_never_echoed(tmp_path: Path) -> None:
    env = {"FACMON_DATABASE_URL": "nonsense-with-pw-do-not-echo"}
    result = facmon(["token", "create", "--role", "viewer"], env, tmp_path)
    assert result.returncode == 2
    assert "FACMON_DATABASE_URL is not a database URL" in result.stderr
    assert "pw-do-not-echo" not in result.stderr


def test_postgres_without_its_driver_says_to_install_the_extra(tmp_path: Path) -> None:
    url = "postgresql+psycopg://facmon:pw-do-not-echo@127.0.0.1:5432/test"  # never reached
    # The child cannot import psycopg, as on an install without the extra.
    blocked = "sys.modules['psycopg'] = None"
    env = {"FACMON_DATABASE_URL": url}
    result = facmon(["token", "create", "--role", "viewer"], env, tmp_path, blocked)
    assert result.returncode == 2, result.stderr
    assert "psycopg is not installed" in result.stderr
    assert "pip install -e '.[postgres]'" in result.stderr
    assert "pw-do-not-echo" not in result.stderr and "Traceback" not in result.stderr
    # With the driver present the same URL is accepted (the machine's PostgreSQL).
    env = {"FACMON_DATABASE_URL": POSTGRES_URL}
    ok = facmon(["token", "create", "--role", "viewer"], env, tmp_path)
    assert ok.returncode == 0, ok.stderr
