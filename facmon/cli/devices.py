"""`facmon devices provision|service-passwords|lock`: broker accounts without plain-text passwords.

Both commands edit the broker's dynamic-security file (see `facmon.dynsec`)
offline and generate every password: only hashes go into the file, and each
password is shown once or written to a file only its owner can read (mode
0600). The broker reads the file at start-up, so restart it afterwards.

    facmon devices provision hq/tower-a/pump/pump-01 hq/tower-a/elevator/lift-1 \\
        --passwords-out device-passwords.txt
    facmon devices service-passwords --env-file .env   # for docker-compose
    facmon devices provision --scenario simulators/scenarios/demo.yaml --env-file .env
    facmon devices lock pump-01                        # a decommissioned device

The simulator has no account of its own: `--scenario` provisions the devices a
`facmon simulate` run would publish as, and the simulator logs each in with its
own password (`facmon simulate --credentials FILE`, or FACMON_SIMULATOR_PASSWORDS
from the MQTT_SIMULATOR_PASSWORDS that `--env-file` sets for docker-compose).
"""

from __future__ import annotations

import argparse
import os
import stat
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Final

from contract.topics import ContractError, DeviceRef
from facmon import dynsec
from simulators import credentials

DEFAULT_FILE: Final = Path("deploy/mosquitto/dynamic-security.json")
# The docker-compose variables that carry the service accounts' passwords.
SERVICE_ENV_VARS: Final = {dynsec.SERVICE_ACCOUNT: "MQTT_FACMON_PASSWORD"}
# The docker-compose variable that carries the simulated devices' passwords.
SIMULATOR_ENV_VAR: Final = "MQTT_SIMULATOR_PASSWORDS"
RESTART_HINT: Final = "restart the broker so that it loads them"


def parse_device(text: str) -> DeviceRef:
    """`site/building/kind/device_id`, the four levels of the device's topics.

    >>> parse_device("hq/tower-a/pump/pump-01")
    DeviceRef(site='hq', building='tower-a', kind='pump', device_id='pump-01')
    """
    parts = text.split("/")
    if len(parts) != 4:
        raise argparse.ArgumentTypeError(
            f"device {text!r} must be site/building/kind/device_id, e.g. hq/tower-a/pump/pump-01"
        )
    return DeviceRef(*parts)


class NotARegularFile(OSError):
    """A passwords or env file path that names a device, a pipe or a folder."""


def _require_regular(path: Path) -> None:
    if not path.is_file():
        raise NotARegularFile(
            f"{path} is not a regular file: give a file path of its own for the passwords"
        )


def write_private(path: Path, text: str) -> None:
    """Write `text` to a file that only its owner may read, whatever the umask.

    Only a regular file: making a shared node such as /dev/null mode 0600 would lock
    every other user and service of the machine out of it."""
    if path.exists():
        _require_regular(path)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # replaced since the check above
            raise NotARegularFile(f"{path} is not a regular file")
        os.fchmod(fd, 0o600)
    except BaseException:
        os.close(fd)
        raise
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)


def read_env(path: Path, name: str) -> str:
    """The value of `name` in a dotenv file, '' if the file or the name is absent."""
    if not path.exists():
        return ""
    _require_regular(path)
    for line in path.read_text(encoding="utf-8").splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() == name:
            return value.strip()
    return ""


def scenario_devices(path: Path, total: int | None) -> list[DeviceRef]:
    """The devices `facmon simulate --scenario path --devices total` publishes as."""
    from simulators.fleet import Fleet
    from simulators.scenario import load_scenario

    scenario = load_scenario(path)
    extra = max(0, total - len(scenario.devices)) if total is not None else 0
    return [device.ref for device in Fleet(scenario, 1, 0, extra_devices=extra).devices]


def merge_env(path: Path, values: Mapping[str, str]) -> None:
    """Set `values` in a dotenv file, keeping its other lines; the file ends up 0600."""
    kept = []
    if path.exists():
        _require_regular(path)
        for line in path.read_text(encoding="utf-8").splitlines():
            name = line.split("=", 1)[0].strip()
            if name not in values:
                kept.append(line)
    lines = kept + [f"{name}={value}" for name, value in values.items()]
    write_private(path, "\n".join(lines) + "\n")


def _print_or_write(passwords: Mapping[str, str], out: str | None) -> None:
    text = "".join(f"{name} {password}\n" for name, password in passwords.items())
    if out:
        write_private(Path(out), text)
        print(f"passwords written to {out} (mode 0600)", file=sys.stderr)
    else:
        print("passwords, shown once (account, password):", file=sys.stderr)
        sys.stdout.write(text)


def cmd_provision(args: argparse.Namespace) -> int:
    from simulators.scenario import ScenarioError

    path = Path(args.file)
    devices: list[DeviceRef] = list(args.devices)
    if args.scenario:
        try:
            devices += scenario_devices(Path(args.scenario), args.scenario_devices)
        except ScenarioError as exc:
            print(f"error: --scenario: {exc}; nothing was changed", file=sys.stderr)
            return 2
    elif args.scenario_devices is not None:
        print("error: --devices counts a scenario's devices: pass --scenario too", file=sys.stderr)
        return 2
    if not devices:
        print(
            "error: name the devices (site/building/kind/device_id ...) or pass --scenario "
            "FILE for the devices a simulator run publishes as; nothing was changed",
            file=sys.stderr,
        )
        return 2
    if args.passwords_out and Path(args.passwords_out).exists():
        print(
            f"error: {args.passwords_out} exists and may hold passwords not yet given to their "
            "devices: pass another --passwords-out file; nothing was changed",
            file=sys.stderr,
        )
        return 2
    config = dynsec.load(path)
    passwords = {}
    try:
        for device in devices:
            password = dynsec.new_password()
            dynsec.provision_device(config, device, password)
            passwords[device.device_id] = password
    except (ContractError, dynsec.ProvisioningError) as exc:
        print(f"error: {exc}; nothing was changed in {path}", file=sys.stderr)
        return 2
    # Passwords first: a file of unused passwords is harmless, hashes of lost ones are not.
    try:
        if args.env_file:
            env_file = Path(args.env_file)
            kept = credentials.parse_inline(
                read_env(env_file, SIMULATOR_ENV_VAR), SIMULATOR_ENV_VAR
            )
            merge_env(env_file, {SIMULATOR_ENV_VAR: credentials.format_inline(kept | passwords)})
            print(
                f"passwords set in {SIMULATOR_ENV_VAR} in {args.env_file} (mode 0600), for the "
                "simulator (FACMON_SIMULATOR_PASSWORDS)",
                file=sys.stderr,
            )
        if args.passwords_out or not args.env_file:
            _print_or_write(passwords, args.passwords_out)
    except NotARegularFile as exc:
        print(f"error: {exc}; nothing was changed in {path}", file=sys.stderr)
        return 2
    dynsec.save(path, config)
    print(
        f"{len(devices)} device account(s) in {path}, each bound to client id "
        f"dev-<device_id> and allowed to publish only on its own topics; {RESTART_HINT}",
        file=sys.stderr,
    )
    return 0


def cmd_service_passwords(args: argparse.Namespace) -> int:
    path = Path(args.file)
    config = dynsec.load(path)
    accounts = args.accounts or list(SERVICE_ENV_VARS)
    passwords = {}
    try:
        for account in accounts:
            password = dynsec.new_password()
            dynsec.set_password(config, account, password)
            passwords[account] = password
    except dynsec.ProvisioningError as exc:
        print(f"error: {exc}; nothing was changed in {path}", file=sys.stderr)
        return 2
    if args.env_file:
        try:
            merge_env(
                Path(args.env_file),
                {
                    SERVICE_ENV_VARS.get(name, f"MQTT_{name.upper()}_PASSWORD"): pw
                    for name, pw in passwords.items()
                },
            )
        except NotARegularFile as exc:
            print(f"error: {exc}; nothing was changed in {path}", file=sys.stderr)
            return 2
        print(f"passwords written to {args.env_file} (mode 0600)", file=sys.stderr)
    else:
        _print_or_write(passwords, None)
    dynsec.save(path, config)
    print(f"new passwords for {', '.join(accounts)} in {path}; {RESTART_HINT}", file=sys.stderr)
    return 0


def cmd_lock(args: argparse.Namespace) -> int:
    path = Path(args.file)
    config = dynsec.load(path)
    try:
        for account in args.accounts:
            dynsec.lock(config, account)
    except dynsec.ProvisioningError as exc:
        print(f"error: {exc}; nothing was changed in {path}", file=sys.stderr)
        return 2
    dynsec.save(path, config)
    print(f"{', '.join(args.accounts)} locked in {path}; {RESTART_HINT}", file=sys.stderr)
    return 0


def add_device_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    devices = sub.add_parser("devices", help="broker accounts for devices and the service")
    devices_sub = devices.add_subparsers(dest="devices_command", required=True)
    file_help = f"the broker's dynamic-security file (default: {DEFAULT_FILE})"

    provision = devices_sub.add_parser(
        "provision",
        help="create device accounts (or renew their passwords) bound to their own topics",
    )
    provision.add_argument(
        "devices",
        nargs="*",
        type=parse_device,
        metavar="SITE/BUILDING/KIND/DEVICE_ID",
        help="devices to give accounts to (besides those of --scenario)",
    )
    provision.add_argument(
        "--scenario",
        metavar="FILE",
        help="also every device `facmon simulate --scenario FILE` publishes as",
    )
    provision.add_argument(
        "--devices",
        dest="scenario_devices",
        type=int,
        metavar="N",
        help="with --scenario: the --devices N the simulator runs with (generated devices too)",
    )
    provision.add_argument("--file", default=str(DEFAULT_FILE), help=file_help)
    provision.add_argument(
        "--passwords-out",
        help="write `device_id password` lines here (mode 0600), not stdout; "
        "`facmon simulate --credentials` reads this file",
    )
    provision.add_argument(
        "--env-file",
        help=f"add the passwords to {SIMULATOR_ENV_VAR} in this dotenv file (mode 0600), "
        "which docker-compose gives the simulator, instead of printing them",
    )
    provision.set_defaults(func=cmd_provision)

    service = devices_sub.add_parser(
        "service-passwords", help="new passwords for the service's account"
    )
    service.add_argument(
        "accounts", nargs="*", help=f"accounts (default: {', '.join(SERVICE_ENV_VARS)})"
    )
    service.add_argument("--file", default=str(DEFAULT_FILE), help=file_help)
    service.add_argument(
        "--env-file",
        help="set MQTT_FACMON_PASSWORD in this dotenv file (mode 0600), "
        "which docker-compose reads, instead of printing them",
    )
    service.set_defaults(func=cmd_service_passwords)

    lock = devices_sub.add_parser(
        "lock",
        help="remove accounts' passwords, e.g. a decommissioned device's, or the shared `sim` "
        "account that files from before per-device simulator logins still have",
    )
    lock.add_argument("accounts", nargs="+", help="account names (a device's is its device id)")
    lock.add_argument("--file", default=str(DEFAULT_FILE), help=file_help)
    lock.set_defaults(func=cmd_lock)
