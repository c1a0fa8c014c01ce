"""Mosquitto's dynamic-security file: who may log in, with which client id, to do what.

The broker ships with Mosquitto's dynamic-security plugin rather than a
`password_file` and an `acl_file`, because only the plugin ties a login to a
client id: a client entry with a `clientid` is refused under any other id, so
a device cannot take over another client's persistent session (ingest's
`facmon-ingest` above all). The password file's only binding,
`use_username_as_clientid`, forces one client id per login, and the service
opens several sessions (ingest, its workers, ticket events) with one login.

Each device gets its own account, named by its device id and bound to the
client id `dev-{device_id}` (what the device library in `gateway/` uses unless
told otherwise), and its own role,
which may publish only on its three topics (telemetry, event, status under its
site, building and kind) and subscribe to nothing. The service's account reads
`facility/#` and is the only one that may publish under `facility/v1/tickets/`;
it is the only login not bound to a client id. There is no gateway account that
may publish as any device: the simulator logs each simulated device in with that
device's own account, so no login but the service's can open ingest's session.

Passwords are hashed as Mosquitto does (PBKDF2-HMAC-SHA512, a random 12-byte
salt, base64); they are random 192-bit strings, so the broker's default 101
iterations keep a reconnect storm of thousands of devices cheap without making
an offline guess any easier.

>>> config = empty_config()
>>> device = DeviceRef("hq", "tower-a", "pump", "pump-01")
>>> provision_device(config, device, "s3cret")
>>> client = find_client(config, "pump-01")
>>> client["clientid"], client["roles"]
('dev-pump-01', [{'rolename': 'device-pump-01'}])
>>> check_password(client, "s3cret"), check_password(client, "guess")
(True, False)
>>> [acl["topic"] for acl in find_role(config, "device-pump-01")["acls"]]
['facility/v1/hq/tower-a/pump/pump-01/telemetry', \
'facility/v1/hq/tower-a/pump/pump-01/event', 'facility/v1/hq/tower-a/pump/pump-01/status']
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import tempfile
from pathlib import Path
from typing import Any, Final, cast

from contract.topics import (
    SERVICE_TOPIC_PREFIXES,
    Channel,
    ContractError,
    DeviceRef,
    parse_topic,
    topic_for,
)

Config = dict[str, Any]

SERVICE_ACCOUNT: Final = "facmon"
RESERVED_ACCOUNTS: Final = (SERVICE_ACCOUNT,)
HASH_ITERATIONS: Final = 101
SALT_BYTES: Final = 12


class ProvisioningError(ValueError):
    """The request cannot be applied to the file; the text says what to change."""


def new_password() -> str:
    """A random password safe inside a URL (`mqtt://user:password@host`)."""
    return secrets.token_urlsafe(24)


def _pbkdf2(password: str, salt: bytes, iterations: int) -> bytes:
    return hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, iterations, 64)


def hashed_password(password: str, iterations: int = HASH_ITERATIONS) -> dict[str, Any]:
    """The `password`, `salt` and `iterations` fields of a dynamic-security client."""
    salt = os.urandom(SALT_BYTES)
    return {
        "password": base64.b64encode(_pbkdf2(password, salt, iterations)).decode("ascii"),
        "salt": base64.b64encode(salt).decode("ascii"),
        "iterations": iterations,
    }


def check_password(client: Config, password: str) -> bool:
    """Whether the broker would accept `password` for this client entry."""
    if not all(key in client for key in ("password", "salt", "iterations")):
        return False
    salt = base64.b64decode(client["salt"])
    expected = base64.b64decode(client["password"])
    return hmac.compare_digest(_pbkdf2(password, salt, int(client["iterations"])), expected)


def empty_config() -> Config:
    """Deny by default: no publishing and no subscribing unless a role grants it."""
    return {
        "defaultACLAccess": {
            "publishClientSend": False,
            "publishClientReceive": True,
            "subscribe": False,
            "unsubscribe": True,
        },
        "clients": [],
        "groups": [],
        "roles": [],
    }


def load(path: Path) -> Config:
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ProvisioningError(
            f"{path} does not exist: pass --file with the broker's dynamic-security file "
            "(deploy/mosquitto/dynamic-security.json in this repository)"
        ) from None
    except json.JSONDecodeError as exc:
        raise ProvisioningError(f"{path} is not valid JSON ({exc}); restore it from git") from None
    if not isinstance(config, dict) or not isinstance(config.get("clients"), list):
        raise ProvisioningError(f"{path} has no `clients` list: it is not a dynamic-security file")
    config.setdefault("roles", [])
    return config


def save(path: Path, config: Config) -> None:
    """Replace the file in one rename, keeping its mode (the broker's user must read it)."""
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    text = json.dumps(config, indent="\t") + "\n"
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def find_client(config: Config, username: str) -> Config:
    for client in config["clients"]:
        if client.get("username") == username:
            return cast(Config, client)
    raise ProvisioningError(f"no account {username!r} in the dynamic-security file")


def find_role(config: Config, rolename: str) -> Config:
    for role in config["roles"]:
        if role.get("rolename") == rolename:
            return cast(Config, role)
    raise ProvisioningError(f"no role {rolename!r} in the dynamic-security file")


def device_client_id(device_id: str) -> str:
    """The one client id a device's login is accepted under: `gateway.publisher`'s and
    `gateway.store_forward`'s default."""
    return f"dev-{device_id}"


def device_role(device_id: str) -> str:
    return f"device-{device_id}"


def device_acls(device: DeviceRef) -> list[Config]:
    """Publish on its own three topics; nothing else (the defaults deny the rest)."""
    return [
        {"acltype": "publishClientSend", "topic": topic_for(device, channel), "allow": True}
        for channel in Channel
    ]


def _check_device(device: DeviceRef) -> None:
    topic_for(device, Channel.TELEMETRY)  # raises ContractError for a bad identifier
    if device.device_id in RESERVED_ACCOUNTS:
        raise ProvisioningError(
            f"device_id {device.device_id!r} is the name of a service account: pick another id"
        )
    probe = f"{topic_for(device, Channel.TELEMETRY)}/"
    if any(probe.startswith(prefix) for prefix in SERVICE_TOPIC_PREFIXES):
        raise ProvisioningError(
            f"site {device.site!r} is reserved for the service's own topics: pick another site"
        )


def _account_site(config: Config, rolename: str) -> str | None:
    """The site whose topics an existing device role may publish on, if the role exists."""
    for role in config["roles"]:
        if role.get("rolename") == rolename:
            for acl in role.get("acls", []):
                try:
                    return parse_topic(str(acl.get("topic", ""))).device.site
                except ContractError:
                    continue
    return None


def provision_device(config: Config, device: DeviceRef, password: str) -> None:
    """Create or update the device's account (bound to its client id) and its role.

    An account is named by the device id alone, so an id that already has an account in
    another site is refused: provisioning it would take that site's device's login."""
    _check_device(device)
    rolename = device_role(device.device_id)
    site = _account_site(config, rolename)
    if site is not None and site != device.site:
        raise ProvisioningError(
            f"device_id {device.device_id!r} already has a broker account at site {site!r}: "
            "a broker account is named by the device id alone, so give this device an id "
            f"unique across sites / 设备编号 {device.device_id!r} 在项目 {site!r} 已有代理账号："
            "代理账号只以设备编号命名，请为此设备使用在各项目中唯一的编号"
        )
    role = {"rolename": rolename, "acls": device_acls(device)}
    config["roles"] = [r for r in config["roles"] if r.get("rolename") != rolename] + [role]
    client = {
        "username": device.device_id,
        "clientid": device_client_id(device.device_id),
        "textname": f"{device.kind} at {device.site}/{device.building}",
        **hashed_password(password),
        "roles": [{"rolename": rolename}],
    }
    others = [c for c in config["clients"] if c.get("username") != device.device_id]
    config["clients"] = [*others, client]


def set_password(config: Config, username: str, password: str) -> None:
    """A new password for an existing account; its client id and roles stay."""
    find_client(config, username).update(hashed_password(password))


def lock(config: Config, username: str) -> None:
    """Remove the account's password: the broker then refuses every login to it."""
    client = find_client(config, username)
    for key in ("password", "salt", "iterations"):
        client.pop(key, None)
