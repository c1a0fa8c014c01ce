"""`facmon simulate`: publish simulated devices to a broker."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from facmon.settings import Settings

if TYPE_CHECKING:
    from contract.topics import DeviceRef


def _simulation_broker(args: argparse.Namespace, settings: Settings) -> tuple[str, str]:
    """The broker URL and where it came from: --broker, FACMON_MQTT_URL, or the embedded
    broker a demo or service started from this folder (which may have moved off 1884)."""
    from facmon.demo import demo_data_dir
    from facmon.embedded_broker import find_embedded_broker

    if args.broker:
        return args.broker, "from --broker"
    if settings.mqtt_url:
        return settings.mqtt_url, "from FACMON_MQTT_URL"
    found = find_embedded_broker(
        [settings.data_dir, demo_data_dir(settings)], settings.embedded_broker_port
    )
    return found.url, found.source


def _simulation_passwords(
    args: argparse.Namespace, devices: list[DeviceRef]
) -> dict[str, str] | None:
    """Each device's own broker password, from --credentials or FACMON_SIMULATOR_PASSWORDS;
    None when neither is given (a broker without accounts, such as the embedded one)."""
    from simulators import credentials as creds

    if args.credentials:
        passwords = creds.load_file(Path(args.credentials))
        source = f"--credentials {args.credentials}"
    elif os.environ.get(creds.ENV_VAR):
        passwords, source = creds.parse_inline(os.environ[creds.ENV_VAR]), creds.ENV_VAR
    else:
        return None
    lacking = creds.missing(passwords, [device.device_id for device in devices])
    if lacking:
        more = f" and {len(lacking) - 5} more" if len(lacking) > 5 else ""
        scenario = args.scenario or "simulators/scenarios/demo.yaml"
        count = f" --devices {args.devices}" if args.devices else ""
        raise creds.CredentialsError(
            f"{source} has no password for {len(lacking)} of the {len(devices)} simulated "
            f"devices ({', '.join(lacking[:5])}{more}). Give them accounts with `facmon devices "
            f"provision --scenario {scenario}{count} --passwords-out NEW_FILE` and pass that "
            "file, then restart the broker"
        )
    return passwords


def cmd_simulate(args: argparse.Namespace) -> int:
    import json
    from dataclasses import replace

    from gateway.connection import parse_mqtt_url
    from simulators.broker_probe import BrokerUnavailable, negotiate_protocol
    from simulators.credentials import CredentialsError
    from simulators.fleet import Fleet
    from simulators.runner import (
        RunStats,
        SimulationRunner,
        format_progress,
        future_start_problem,
    )
    from simulators.scenario import (
        ScenarioError,
        builtin_scenario,
        load_scenario,
        scenario_json_schema,
    )

    if args.schema:
        print(json.dumps(scenario_json_schema(), indent=2))
        return 0
    now_ms = int(time.time() * 1000)
    try:
        scenario = load_scenario(Path(args.scenario) if args.scenario else builtin_scenario("demo"))
        if args.start is not None:
            scenario = replace(scenario, start=args.start)
        start_ms = scenario.start_ms(now_ms)
    except ScenarioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    problem = future_start_problem(scenario.name, start_ms, now_ms)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    extra = max(0, args.devices - len(scenario.devices)) if args.devices is not None else 0
    if args.devices is not None and args.devices < len(scenario.devices):
        print(
            f"note: --devices {args.devices} is fewer than the scenario's "
            f"{len(scenario.devices)} devices; running the scenario's devices only",
            file=sys.stderr,
        )
    speed = args.speed or scenario.speed
    fleet = Fleet(
        scenario, seed=args.seed, start_ms=start_ms, rate_hz=args.rate, extra_devices=extra
    )
    try:
        passwords = _simulation_passwords(args, [device.ref for device in fleet.devices])
    except CredentialsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    settings = Settings()
    url, source = _simulation_broker(args, settings)
    address = parse_mqtt_url(url)
    probe_address, probe_id = address, None
    if passwords is not None:  # a device's login is bound to its client id: probe as one
        first = fleet.devices[0].ref.device_id
        probe_address = replace(address, username=first, password=passwords[first])
        probe_id = f"dev-{first}"
    try:
        if args.protocol == "auto":
            protocol, note = negotiate_protocol(
                probe_address, settings.mqtt_tls(), client_id=probe_id
            )
        else:
            protocol, note = args.protocol, None
    except BrokerUnavailable as exc:
        hint = (
            "pass --broker mqtt://host:port"
            if args.broker
            else (
                "start `make demo` or `facmon run` in this folder first, or pass "
                "--broker mqtt://host:port"
            )
        )
        if passwords is not None:
            hint = (
                f"check that device {first}'s password in the simulator's passwords is the "
                "one last provisioned and that the broker was restarted since"
            )
        elif "Not authorized" in str(exc):
            hint = (
                "on a broker with accounts each simulated device logs in with its own: run "
                "`facmon devices provision --scenario FILE --passwords-out NEW_FILE`, restart "
                "the broker, and pass --credentials NEW_FILE"
            )
        print(f"error: {exc}; the URL: {source}. To fix: {hint}", file=sys.stderr)
        return 2
    if note:
        print(f"note: {note}", file=sys.stderr)
    runner = SimulationRunner(
        fleet,
        address,
        speed,
        client_prefix=args.client_prefix,
        protocol=protocol,
        will_delay_s=scenario.will_delay_s,
        passwords=passwords,
    )

    def progress(stats: RunStats) -> None:
        end = "\n" if not sys.stderr.isatty() else "\r"
        print(format_progress(stats), end=end, file=sys.stderr, flush=True)

    duration = args.duration if args.duration is not None else scenario.duration_s
    print(
        f"simulating {len(fleet.devices)} devices of scenario '{scenario.name}' against "
        f"{address.redacted()} (MQTT {protocol}; {source}) at {speed:g}x"
        f"{', each device with its own account' if passwords is not None else ''} (Ctrl-C stops)",
        file=sys.stderr,
    )
    try:
        stats = runner.run(duration_sim_s=duration, max_messages=args.messages, progress=progress)
    except KeyboardInterrupt:
        runner.close()
        stats = runner.stats
    print(file=sys.stderr)
    print(f"published {stats.published} samples", file=sys.stderr)
    return 0


def add_simulate_command(sub: Any) -> None:
    """Add `simulate`."""
    sim = sub.add_parser("simulate", help="publish simulated devices to a broker")
    sim.add_argument(
        "--devices",
        type=int,
        help="devices in all: the scenario's own, plus healthy generated ones up to this number",
    )
    sim.add_argument("--rate", type=float, help="samples per simulated second per device")
    sim.add_argument("--scenario", help="scenario YAML (default: the built-in demo)")
    sim.add_argument(
        "--schema",
        action="store_true",
        help="print the JSON Schema of scenario files and exit",
    )
    sim.add_argument("--seed", type=int, default=1, help="simulator seed (default 1)")
    sim.add_argument("--speed", type=float, help="simulated seconds per real second")
    sim.add_argument("--duration", type=float, help="simulated seconds to run (default: forever)")
    sim.add_argument("--messages", type=int, help="stop after this many samples")
    sim.add_argument(
        "--broker",
        help="mqtt://host:port (default: FACMON_MQTT_URL, else the embedded broker of a demo "
        "or service running from this folder, else port FACMON_EMBEDDED_BROKER_PORT)",
    )
    sim.add_argument(
        "--protocol",
        choices=["auto", "5", "3.1.1"],
        default="auto",
        help="MQTT version (auto: v5 if the broker accepts it, else 3.1.1)",
    )
    sim.add_argument(
        "--start",
        help="override the scenario's start: --start=-1h, or an RFC 3339 time in the past",
    )
    sim.add_argument(
        "--client-prefix",
        default="sim",
        help="prefix of device client ids on a broker without accounts",
    )
    sim.add_argument(
        "--credentials",
        metavar="FILE",
        help="log each device in with its own account and bound client id dev-<device_id>: "
        "the `device_id password` file `facmon devices provision --passwords-out` wrote "
        "(default: FACMON_SIMULATOR_PASSWORDS, device_id=password,... as "
        "`facmon devices provision --env-file` writes it)",
    )
    sim.set_defaults(func=cmd_simulate)
