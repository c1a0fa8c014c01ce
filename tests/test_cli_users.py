"""`facmon users`: create, list, set-role, reset-password, deactivate, on the service's
database; passwords come from a prompt, from stdin or as a one-time password printed
once, never from an argument."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from facmon.cli import main
from quality.users.errors import SignInRefused
from quality.users.store import UserStore
from storage.sql import make_engine

PASSWORD = "correct horse battery"


@pytest.fixture
def users(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[UserStore]:
    for name in list(os.environ):
        if name.startswith("FACMON_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("FACMON_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("LANG", "C.UTF-8")
    engine = make_engine(f"sqlite:///{tmp_path / 'facmon.sqlite'}")
    yield UserStore(engine)
    engine.dispose()


def _run(argv: list[str], monkeypatch: pytest.MonkeyPatch, stdin: str = "") -> int:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    return main(argv)


def test_create_from_stdin_then_sign_in(
    users: UserStore, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["users", "create", "Zhang.Wei", "--role", "quality", "--display-name", "张伟"]
    assert _run([*argv, "--password-stdin"], monkeypatch, PASSWORD + "\n") == 0
    out, err = capsys.readouterr()
    assert out == "" and "user zhang.wei (quality) created" in err
    assert PASSWORD not in out + err
    made = users.sign_in("zhang.wei", PASSWORD, None)
    assert made.user.display_name == "张伟" and not made.user.must_change_password


def test_without_a_password_a_one_time_password_is_printed_once(
    users: UserStore, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["users", "create", "tech.wu", "--role", "engineer", "--contractor", "申安电梯"]
    assert _run(argv, monkeypatch) == 0
    out, err = capsys.readouterr()
    one_time = out.strip()
    assert len(one_time) == 19 and "One-time password" in err
    made = users.sign_in("tech.wu", one_time, None)
    assert made.user.must_change_password and made.user.contractor == "申安电梯"


def test_the_prompt_asks_twice(
    users: UserStore, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    answers = iter([PASSWORD, PASSWORD, PASSWORD, "something else"])
    monkeypatch.setattr("getpass.getpass", lambda _prompt="": next(answers))
    assert _run(["users", "create", "li.na", "--role", "viewer", "--prompt"], monkeypatch) == 0
    users.sign_in("li.na", PASSWORD, None)
    assert _run(["users", "reset-password", "li.na", "--prompt"], monkeypatch) == 2
    assert "the two passwords differ" in capsys.readouterr().err


def test_a_password_is_never_an_argument(users: UserStore, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SystemExit):
        _run(["users", "create", "li.na", "--role", "viewer", "--password", PASSWORD], monkeypatch)


def test_bad_input_names_the_field_in_the_locale_language(
    users: UserStore, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    argv = ["users", "create", "wang", "--role", "viewer", "--password-stdin"]
    assert _run(argv, monkeypatch, "short\n") == 2
    assert "密码（password）太短：至少需要 10 个字符" in capsys.readouterr().err
    assert users.list() == []


def test_list_set_role_reset_and_deactivate(
    users: UserStore, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["users", "create", "zhou.min", "--role", "engineer", "--password-stdin"]
    assert _run(argv, monkeypatch, PASSWORD + "\n") == 0
    session = users.sign_in("zhou.min", PASSWORD, None).secret
    capsys.readouterr()

    assert (
        _run(["users", "set-role", "zhou.min", "quality", "--contractor", "C1"], monkeypatch) == 0
    )
    view = users.get("zhou.min")
    assert (view.role, view.contractor) == ("quality", "C1")
    assert _run(["users", "set-role", "zhou.min", "quality", "--no-contractor"], monkeypatch) == 0
    assert users.get("zhou.min").contractor is None

    assert _run(["users", "list"], monkeypatch) == 0
    listed = capsys.readouterr().out.splitlines()
    assert listed[0].split("\t")[0] == "username"
    assert listed[1].split("\t")[:3] == ["zhou.min", "zhou.min", "quality"]

    assert _run(["users", "reset-password", "zhou.min"], monkeypatch) == 0
    out, err = capsys.readouterr()
    assert "1 session(s) ended" in err
    assert users.principal(session) is None
    with pytest.raises(SignInRefused):
        users.sign_in("zhou.min", PASSWORD, None)
    fresh = users.sign_in("zhou.min", out.strip(), None).secret

    assert _run(["users", "deactivate", "zhou.min"], monkeypatch) == 0
    assert users.principal(fresh) is None
    assert not users.get("zhou.min").active
    assert _run(["users", "set-role", "ghost", "viewer"], monkeypatch) == 2


def test_the_command_runs_as_installed(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FACMON_")}
    env["FACMON_DATA_DIR"] = str(tmp_path)
    run = [sys.executable, "-m", "facmon.cli", "users", "create", "ops", "--role", "admin"]
    made = subprocess.run(run, capture_output=True, text=True, env=env, check=False)
    assert made.returncode == 0, made.stderr
    engine = make_engine(f"sqlite:///{tmp_path / 'facmon.sqlite'}")
    try:
        assert UserStore(engine).sign_in("ops", made.stdout.strip(), None).user.role == "admin"
    finally:
        engine.dispose()
