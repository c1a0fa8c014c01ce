"""The API's listening socket, bound before anything else starts or prints.

Binding first turns "port in use" into one clear line that names the variable to
change, instead of a banner, a token and then a traceback from uvicorn; and the
socket handed to uvicorn is the one already bound, so nothing can take the port
in between.
"""

from __future__ import annotations

import socket


class StartupError(RuntimeError):
    """A command cannot start; the message says what to change. No traceback is shown."""


class PortInUse(StartupError):
    """The API port is taken; the message names FACMON_API_PORT and a free port to use."""


def _next_free_port(host: str, port: int) -> int | None:
    for candidate in range(port + 1, min(port + 50, 65536)):
        try:
            with socket.create_server((host, candidate)):
                return candidate
        except OSError:
            continue
    return None


def bind_api_socket(host: str, port: int, command: str) -> socket.socket:
    """A socket bound to host:port, or PortInUse saying how to run `command` elsewhere."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    except socket.gaierror as exc:
        raise PortInUse(
            f"FACMON_API_HOST={host} is not an address of this machine ({exc.strerror}): "
            "set it to 127.0.0.1, 0.0.0.0 or a local address"
        ) from None
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        free = _next_free_port(host, port)
        example = f"FACMON_API_PORT={free or 8080} {command}"
        raise PortInUse(
            f"the API port {port} on {host} is not available ({exc.strerror}): another program "
            f"(or another facmon) listens there. Stop it, or set FACMON_API_PORT to a free "
            f"port, e.g. {example}"
        ) from None
    return sock
