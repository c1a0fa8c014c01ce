"""The `facmon` command: run the service, the demo, simulators, dashboards and benchmarks."""

from __future__ import annotations

import argparse
import logging
import os
import socket
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from dashboards.cli import add_publish_command
from facmon.bench_latency import add_latency_command
from facmon.bench_soak import add_soak_arguments
from facmon.gc_tuning import tune_for_long_lived_state
from facmon.kpi.cli import add_kpi_commands
from facmon.ports import StartupError, bind_api_socket
from facmon.provisioning import add_device_commands
from facmon.settings import Settings
from facmon.settings_errors import explain as explain_settings_error
from ingest.dead_letter_replay import add_dead_letter_commands

if TYPE_CHECKING:
    from facmon.service import Service
    from gateway.contract import DeviceRef

log = logging.getLogger("facmon")


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    for noisy in ("httpx", "amqtt", "transitions", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _serve_api(service: Service, settings: Settings, sock: socket.socket) -> None:
    """Serve on `sock`, bound before the service started (see facmon.ports)."""
    import uvicorn

    from api.app import create_app

    app = create_app(service.stores)
    config = uvicorn.Config(
        app, host=settings.api_host, port=settings.api_port, log_level="warning", access_log=False
    )
    server = uvicorn.Server(config)
    server.run(sockets=[sock])


def _exit_on_sigterm() -> None:
    """uvicorn re-raises the SIGTERM it caught once it has stopped; as an exception it
    unwinds through our clean-up (workers, flush), where the default action would not."""
    import signal

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))


def cmd_run(args: argparse.Namespace) -> int:
    from facmon.service import Service
    from facmon.workers import IngestWorkers, plan_workers

    _exit_on_sigterm()
    settings = Settings()
    sock = bind_api_socket(settings.api_host, settings.api_port, ".venv/bin/facmon run")
    service = Service(settings, ingest=settings.ingest_workers == 1)
    service.start()
    tune_for_long_lived_state()
    workers: IngestWorkers | None = None
    if settings.ingest_workers == 0:
        print("no ingest here: FACMON_INGEST_WORKERS=0 (run facmon ingest workers)", flush=True)
    if settings.ingest_workers > 1:
        assert service.address is not None
        embedded = {"FACMON_MQTT_PROTOCOL": service.mqtt_protocol} if service.broker else {}
        url = settings.mqtt_url or (service.broker.url if service.broker else "")
        workers = IngestWorkers(plan_workers(settings, url, embedded))
        workers.start()
        print(f"{settings.ingest_workers} ingest workers started", flush=True)
    print(f"API on http://{settings.api_host}:{settings.api_port} (OpenAPI at /docs)", flush=True)
    try:
        _serve_api(service, settings, sock)
    finally:
        if workers:
            workers.stop()
        service.stop()
        print("stopped.", flush=True)
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    """One ingest worker: no API, no event delivery; stops cleanly on SIGTERM."""
    import signal
    import threading

    from facmon.metrics import serve_metrics
    from facmon.service import Service

    settings = Settings()
    if not settings.mqtt_url:
        print(
            "error: facmon ingest needs FACMON_MQTT_URL: a worker joins the broker the "
            "service uses (facmon run starts its workers with it)",
            file=sys.stderr,
        )
        return 2
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    service = Service(settings, delivery=False)
    registry = service.stores.metrics.registry
    port = settings.metrics_port
    metrics = serve_metrics(registry, settings.api_host, port) if port else None
    service.start()
    tune_for_long_lived_state()
    print(f"ingest worker {settings.mqtt_client_id} running", flush=True)
    try:
        while not stop.wait(1.0):
            pass
    finally:
        if metrics:
            metrics.shutdown()
        service.stop()
        print(f"ingest worker {settings.mqtt_client_id} stopped.", flush=True)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from facmon.demo import run_demo

    return run_demo(Path(args.scenario) if args.scenario else None, args.seed, _serve_api)


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


def cmd_dashboards_build(args: argparse.Namespace) -> int:
    from dashboards.build import build_all

    out = Path(args.out) if args.out else None
    paths = build_all(out) if out else build_all()
    for path in paths:
        print(path)
    return 0


def cmd_bench_ingest(args: argparse.Namespace) -> int:
    from facmon.bench import bench_ingest

    return bench_ingest(args)


def cmd_bench_soak(args: argparse.Namespace) -> int:
    from facmon.bench_soak import bench_soak

    return bench_soak(args)


def _database_shown(url: str) -> tuple[str, bool]:
    """The ticket database as the user can find it (absolute path, no password), and
    whether it is a SQLite file that does not exist yet."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database:
        path = Path(parsed.database).resolve()
        return str(path), not path.exists()
    return parsed.render_as_string(hide_password=True), False


def cmd_token_create(args: argparse.Namespace) -> int:
    from facmon.auth import TokenStore
    from facmon.db import create_schema, make_engine

    settings = Settings()
    where, new = _database_shown(settings.ticket_database_url)
    engine = make_engine(settings.ticket_database_url)
    create_schema(engine)
    try:
        token_id, token = TokenStore(engine).create(args.role, args.name or f"{args.role}-cli")
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    print(f"token {token_id} ({args.role}) written to {where}", file=sys.stderr)
    if new:
        print(
            "note: that is a new database: the service only accepts the token if it uses "
            "the same one. Run this from the folder where the service runs, or set "
            "FACMON_DATA_DIR (or FACMON_DATABASE_URL) as the service has it.",
            file=sys.stderr,
        )
    print("The token is shown once; store it now:", file=sys.stderr)
    print(token)
    return 0


def cmd_evaluate_skab(args: argparse.Namespace) -> int:
    from facmon.evaluate_skab import cmd_evaluate_skab as run

    return run(args)


def cmd_evaluate_scenarios(args: argparse.Namespace) -> int:
    from facmon.evaluate_scenarios import cmd_evaluate_scenarios as run

    return run(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="facmon", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run ingest, detectors and the API (FACMON_* settings)")
    run.set_defaults(func=cmd_run)

    ingest_worker = sub.add_parser(
        "ingest", help="one ingest worker for FACMON_INGEST_SITES (no API); see README scale-out"
    )
    ingest_worker.set_defaults(func=cmd_ingest)
    demo = sub.add_parser("demo", help="run everything embedded with simulated faulty devices")
    demo.add_argument("--scenario", help="scenario YAML (default: the built-in demo)")
    demo.add_argument("--seed", type=int, default=1)
    demo.set_defaults(func=cmd_demo)

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
    sim.add_argument("--seed", type=int, default=1)
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

    dashboards = sub.add_parser("dashboards", help="Grafana dashboards as code")
    dash_sub = dashboards.add_subparsers(dest="dashboards_command", required=True)
    build = dash_sub.add_parser("build", help="write dashboard JSON and provisioning")
    build.add_argument("--out", help="output directory (default: dashboards/generated)")
    build.set_defaults(func=cmd_dashboards_build)
    add_publish_command(dash_sub)

    add_kpi_commands(sub)
    add_dead_letter_commands(sub)
    add_device_commands(sub)

    token = sub.add_parser("token", help="API tokens")
    token_sub = token.add_subparsers(dest="token_command", required=True)
    create = token_sub.add_parser("create", help="create a token and print it once")
    create.add_argument("--role", required=True, choices=["viewer", "engineer", "quality", "admin"])
    create.add_argument("--name", help="who or what the token is for")
    create.set_defaults(func=cmd_token_create)

    bench = sub.add_parser("bench", help="benchmarks that print figures")
    bench_sub = bench.add_subparsers(dest="bench_command", required=True)
    ingest = bench_sub.add_parser("ingest", help="ingest throughput vs raw broker delivery")
    ingest.add_argument("--messages", type=int, default=100_000)
    ingest.add_argument("--devices", type=int, default=100)
    ingest.add_argument(
        "--workers", default="1", help="ingest processes, or a list such as 1,2 to compare"
    )
    ingest.add_argument(
        "--load", choices=["c", "python"], default="c", help="mosquitto_pub per device, or paho"
    )
    ingest.add_argument("--publishers", type=int, default=2, help="paho processes (--load python)")
    ingest.add_argument("--runs", type=int, default=3, help="repetitions; medians are reported")
    ingest.add_argument("--json", action="store_true", help="print one JSON object")
    ingest.set_defaults(func=cmd_bench_ingest)
    soak = bench_sub.add_parser(
        "soak", help="sustained device load on N ingest workers: lag percentiles and memory"
    )
    add_soak_arguments(soak)
    soak.set_defaults(func=cmd_bench_soak)
    add_latency_command(bench_sub)

    evaluate = sub.add_parser("evaluate", help="judge detectors on data")
    eval_sub = evaluate.add_subparsers(dest="evaluate_command", required=True)
    skab = eval_sub.add_parser(
        "skab", help="the pump detector on SKAB under its protocol (F1, FAR, MAR, NAB, delay)"
    )
    skab.add_argument("--data", required=True, help="a folder laid out like SKAB's data/")
    skab.add_argument("--json", action="store_true", help="print one JSON object")
    skab.add_argument("--predictions", help="write per-file prediction CSVs under this folder")
    skab.set_defaults(func=cmd_evaluate_skab)
    scenarios = eval_sub.add_parser(
        "scenarios",
        help="every detector on the scenario library: recall, detection delay, "
        "false tickets per 1,000 device-days",
    )
    scenarios.add_argument("--json", action="store_true", help="print one JSON object")
    scenarios.add_argument(
        "--dir", help="folder of scenario files (default: simulators/scenarios/library)"
    )
    scenarios.add_argument(
        "--seed", type=int, default=1, help="first seed; runs use seed, seed+1, ..."
    )
    scenarios.add_argument(
        "--quick",
        action="store_true",
        help="one seed per file, fault-free runs cut to a day (device-day target not checked)",
    )
    scenarios.set_defaults(func=cmd_evaluate_scenarios)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _setup_logging(args.verbose)
    try:
        result: int = args.func(args)
    except KeyboardInterrupt:
        return 130
    except StartupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ValidationError as exc:  # settings from FACMON_* variables
        if args.verbose:
            raise
        print(f"error: {explain_settings_error(exc)}", file=sys.stderr)
        return 2
    except Exception as exc:  # last resort: a clear message instead of a traceback
        if args.verbose:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return result


if __name__ == "__main__":
    sys.exit(main())
