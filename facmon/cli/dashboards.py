"""`facmon dashboards build|publish`: argument parsing only, so `facmon` starts fast.

The publishing code (grafana-client, every dashboard, the detectors they
read their limits from) is imported when the command runs.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any


def add_publish_command(dashboard_commands: Any) -> None:
    """Add `publish` to the `facmon dashboards` subcommands."""
    command = dashboard_commands.add_parser(
        "publish", help="create or update the folder, datasource and dashboards in Grafana"
    )
    command.add_argument("--url", required=True, help="Grafana base URL, e.g. http://grafana:3000")
    command.add_argument(
        "--token",
        default=os.environ.get("GRAFANA_TOKEN"),
        help="service account token (default: $GRAFANA_TOKEN, else credentials in the URL)",
    )
    command.add_argument(
        "--influx-url",
        help="InfluxDB URL as Grafana reaches it (default: the provisioned http://influxdb:8086)",
    )
    command.add_argument("--database", help="InfluxDB database (default: facmon)")
    command.add_argument("--influx-user", help="InfluxDB user, if it requires authentication")
    command.add_argument("--influx-password", help="InfluxDB password")
    command.set_defaults(func=cmd_publish)


def cmd_publish(args: argparse.Namespace) -> int:
    from dashboards.publish import PublishError, publish

    try:
        changes = publish(
            args.url,
            args.token,
            influx_url=args.influx_url,
            database=args.database,
            influx_user=args.influx_user,
            influx_password=args.influx_password,
        )
    except PublishError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for change in changes:
        print(f"{change.kind:<10} {change.uid:<20} {change.action}")
    return 0


def cmd_dashboards_build(args: argparse.Namespace) -> int:
    from dashboards.build import build_all

    out = Path(args.out) if args.out else None
    paths = build_all(out) if out else build_all()
    for path in paths:
        print(path)
    return 0


def add_dashboards_commands(sub: Any) -> None:
    """Add `dashboards build|publish`."""
    dashboards = sub.add_parser("dashboards", help="Grafana dashboards as code")
    dash_sub = dashboards.add_subparsers(dest="dashboards_command", required=True)
    build = dash_sub.add_parser("build", help="write dashboard JSON and provisioning")
    build.add_argument("--out", help="output directory (default: dashboards/generated)")
    build.set_defaults(func=cmd_dashboards_build)
    add_publish_command(dash_sub)
