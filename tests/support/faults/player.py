"""The player under faults of its own dependencies: its Redis (as ``tokenctl up`` runs it,
append-only file and all), the customer's profile API and webhook receiver behind proxies
a test cuts or slows, and the participants the load plays.

:class:`Participants` are the load: campaign pages (a token with data, a token with an
access token for the profile API), ``POST /v1/identify`` calls, and form submissions that
change the prefilled e-mail (so each accepted form queues a ``profile.updated`` event). It
remembers every form sent and its answer, so a test can then check that every participation
answered 2xx is counted, in the campaign's entries stream, and delivered to the receiver.
"""

from __future__ import annotations

import base64
import collections
import hashlib
import html
import itertools
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import msgspec
import redis

from player.app import create_app
from shared.identity import (
    Campaign,
    PlayerSecrets,
    PlayerSecretsStore,
    PlayerSettings,
    PlayerStore,
    WebhookSettings,
)
from shared.identity.webhooks.outbox import outbox_stream
from shared.ops.devstack import redis_config
from shared.settings import Settings
from shared.vault import Vault
from tests.support.asgi_server import AsgiServer
from tests.support.tokens import claims, sign
from tests.support.webhook_receiver import WebhookReceiver

__all__ = [
    "CAMPAIGN",
    "SECRET",
    "AofRedis",
    "Participants",
    "Sent",
    "delivered_events",
    "page_code",
    "put_account",
    "serve_player",
]

CAMPAIGN = "1001"
SECRET = "whsec_" + base64.b64encode(b"f" * 32).decode()
_FORM = {"Content-Type": "application/x-www-form-urlencoded"}
_INPUT = re.compile(r'<input type="(?:hidden|text|email|date|tel)" name="(\w+)" value="([^"]*)"')
_CODE = re.compile(r'data-code="([A-Z_]+)"')


class AofRedis:
    """Redis exactly as ``tokenctl up`` configures it (:func:`redis_config`: a Unix socket,
    the append-only file in ``<data>/redis``), which a test may SIGKILL and start again on
    the same files. The data dir is a short one of its own (a socket path is limited)."""

    def __init__(self) -> None:
        self.data = Path(tempfile.mkdtemp(prefix="pf-", dir="/tmp"))
        (self.data / "redis").mkdir(mode=0o700)
        self.config = self.data / "redis.conf"
        self.config.write_text(redis_config(self.data))
        self.url = f"unix://{self.data / 'redis' / 'redis.sock'}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 15.0) -> AofRedis:
        """Start (on the files a previous run left) and wait until PING answers, the
        append-only file loaded."""
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is missing: apt-get install redis-server")
        (self.data / "redis" / "redis.sock").unlink(missing_ok=True)
        self.process = subprocess.Popen(
            [binary, str(self.config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        client = self.client()
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"redis-server exited with {self.process.returncode}")
                try:
                    client.ping()  # answers LOADING (an error) until the file is read
                    return self
                except redis.RedisError:
                    time.sleep(0.02)
        finally:
            client.close()
        self.stop()
        raise RuntimeError("redis-server did not answer PING in time")

    def kill(self) -> None:
        """SIGKILL: the process dies with no chance to write anything more."""
        assert self.process is not None
        self.process.kill()
        self.process.wait()

    def client(self) -> redis.Redis:
        """A plain client, to look at what the player stored."""
        return redis.Redis.from_url(self.url, socket_timeout=2)

    def stop(self) -> None:
        """Stop the server and remove its files."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.data, ignore_errors=True)


def put_account(
    vault: Vault, account_id: str, *, profile_api: str | None, webhook_url: str | None
) -> None:
    """Player settings (campaign 1001, the profile API, the webhook) and webhook secrets of
    an account that exists already."""
    webhook = None if webhook_url is None else WebhookSettings(url=webhook_url, auth_header="X-Key")
    PlayerStore(vault).put(
        account_id,
        PlayerSettings(
            campaigns={CAMPAIGN: Campaign(title="Fault quiz")},
            profile_api=profile_api,
            webhook=webhook,
        ),
        expected=0,
    )
    PlayerSecretsStore(vault).put(
        account_id, PlayerSecrets(webhook_secret=SECRET, webhook_auth_value="k-1"), expected=0
    )


@contextmanager
def serve_player(
    settings: Settings, redis_url: str, *, port: int | None = None, **overrides: Any
) -> Iterator[str]:
    """The player app over HTTP (uvicorn in a thread, on ``port`` or a free one) on
    ``redis_url``; its base URL."""
    fields = {f: getattr(settings, f) for f in settings.__struct_fields__}
    app = create_app(Settings(**{**fields, "redis_url": redis_url, **overrides}))
    with AsgiServer(app, port=port) as server:
        yield server.url


def page_code(body: Any) -> str | None:
    """The code of an error screen (``data-code``) or of a problem (``code``)."""
    if isinstance(body, dict):
        code = body.get("code")
        return code if isinstance(code, str) else None
    found = _CODE.search(body) if isinstance(body, str) else None
    return found.group(1) if found else None


@dataclass
class Sent:
    """A form as submitted: whose, the fields shown and those sent, and the status of every
    answer it got."""

    sub: str
    shown: dict[str, str]
    fields: dict[str, str]
    statuses: list[int]

    @property
    def changes(self) -> dict[str, dict[str, str]]:
        """What ``profile.updated`` must say for it: the prefilled fields it changed."""
        return {
            name: {"old": old, "new": self.fields[name]}
            for name, old in self.shown.items()
            if old and name != "form_token" and self.fields[name] != old
        }

    @property
    def accepted(self) -> bool:
        return any(200 <= s < 300 for s in self.statuses)

    @property
    def taken(self) -> bool:
        """Accepted, or refused as used (recorded by an attempt whose answer was lost)."""
        return self.accepted or self.used

    #: Set when a resend was refused with FORM_USED.
    used: bool = False


class Participants:
    """The load's requests for one account's campaign 1001 (see the module docstring).

    Every token is for a participant of its own (``sub`` unique) with ``limit.nb`` 1, so the
    page and identify read the participation count (Redis) and each accepted form counts 1.
    """

    def __init__(self, account: str) -> None:
        self.account = account
        self._serial = itertools.count()
        self._lock = threading.Lock()
        #: Forms shown and not yet sent: (sub, the inputs as shown, form token included).
        self.forms: collections.deque[tuple[str, dict[str, str]]] = collections.deque()
        #: Every form sent, in the order sent.
        self.sent: list[Sent] = []

    def _sub(self, kind: str) -> str:
        with self._lock:
            return f"{kind}-{next(self._serial)}"

    def _token(self, sub: str, **extra: Any) -> str:
        return sign(claims(CAMPAIGN, sub=sub, limit={"nb": 1}, **extra), "ES256", "ec-p256")

    def _page(self, http: httpx.Client, token: str, sub: str) -> httpx.Response:
        answer = http.get(f"/play/{self.account}/{CAMPAIGN}", params={"qual_token": token})
        if answer.status_code == 200 and 'data-step="form"' in answer.text:
            shown = {name: html.unescape(v) for name, v in _INPUT.findall(answer.text)}
            self.forms.append((sub, shown))
        return answer

    # -- the requests of the load ------------------------------------------------------------

    def page(self, http: httpx.Client) -> httpx.Response:
        """The campaign page for a token prefilling the e-mail."""
        sub = self._sub("page")
        return self._page(http, self._token(sub, profile={"email": "old@example.com"}), sub)

    def prefill(self, http: httpx.Client) -> httpx.Response:
        """The campaign page for a token carrying an access token: the profile API's answer
        prefills it."""
        sub = self._sub("prefill")
        return self._page(http, self._token(sub, access_token=f"at-{sub}"), sub)

    def unlimited(self, http: httpx.Client) -> httpx.Response:
        """The campaign page for a token without ``limit``: shown without asking Redis."""
        token = sign(claims(CAMPAIGN, sub="unlimited"), "ES256", "ec-p256")
        return http.get(f"/play/{self.account}/{CAMPAIGN}", params={"qual_token": token})

    def identify(self, http: httpx.Client) -> httpx.Response:
        """``POST /v1/identify`` for a token with data."""
        token = self._token(self._sub("identify"), profile={"email": "old@example.com"})
        return http.post(
            "/v1/identify", json={"account": self.account, "campaign": CAMPAIGN, "token": token}
        )

    def identify_profile(self, http: httpx.Client) -> httpx.Response:
        """``POST /v1/identify`` for a token carrying an access token (the profile API)."""
        sub = self._sub("identify-profile")
        token = self._token(sub, access_token=f"at-{sub}")
        return http.post(
            "/v1/identify", json={"account": self.account, "campaign": CAMPAIGN, "token": token}
        )

    def submit(self, http: httpx.Client) -> httpx.Response:
        """Send the oldest form shown (one is shown first if none waits) as a browser
        would, every field as shown but the e-mail, changed."""
        try:
            sub, shown = self.forms.popleft()
        except IndexError:
            answer = self.page(http)
            if answer.status_code != 200:
                return answer  # no form could be shown (the page's own answer)
            sub, shown = self.forms.popleft()
        sent = Sent(sub, shown, {**shown, "email": f"new-{sub}@example.com"}, [])
        self.sent.append(sent)
        return self.post(http, sent)

    def post(self, http: httpx.Client, sent: Sent) -> httpx.Response:
        """Post ``sent`` (again) and record its answer's status."""
        answer = http.post(
            f"/play/{self.account}/{CAMPAIGN}/participations",
            content=urlencode(sent.fields),
            headers=_FORM,
        )
        sent.statuses.append(answer.status_code)
        if answer.status_code == 400 and page_code(answer.text) == "FORM_USED":
            sent.used = True
        return answer

    def requests(self, *kinds: str) -> list[tuple[str, Any]]:
        """(kind, send) pairs for :class:`tests.support.faults.load.Load`."""
        return [(kind, getattr(self, kind)) for kind in kinds]

    def show_forms(self, url: str, count: int) -> None:
        """Show ``count`` forms before the fault (so submissions have some to send)."""
        with httpx.Client(base_url=url, timeout=10) as http:
            for _ in range(count):
                assert self.page(http).status_code == 200

    # -- what must hold afterwards -----------------------------------------------------------

    def accepted(self) -> dict[str, Sent]:
        """The forms answered 2xx, by participant."""
        return {s.sub: s for s in self.sent if s.accepted}

    def taken(self) -> dict[str, Sent]:
        """The forms the player recorded as far as their answers tell, by participant."""
        return {s.sub: s for s in self.sent if s.taken}

    def recorded(self, client: redis.Redis) -> tuple[list[str], dict[str, int]]:
        """The participants in the campaign's entries stream (in order, duplicates kept),
        and the count Redis holds for each participant who sent a form."""
        key = f"player:entries:{{{self.account}:{CAMPAIGN}}}"
        raw: Any = client.xrange(key)
        entries = [msgspec.json.decode(fields[b"entry"])["sub"] for _, fields in raw]
        counts = {}
        for sent in self.sent:
            digest = hashlib.sha256(sent.sub.encode()).hexdigest()[:32]
            value = client.get(f"player:count:{{{self.account}:{CAMPAIGN}}}:{digest}")
            counts[sent.sub] = int(value or 0)
        return entries, counts


def delivered_events(receiver: WebhookReceiver) -> dict[str, dict[str, Any]]:
    """The events the receiver verified and answered 2xx, deduplicated by ``webhook-id``
    (a receiver's duty under at-least-once); a duplicate must be the same event."""
    events: dict[str, dict[str, Any]] = {}
    for received in receiver.verified():
        if received.event_id is None or not 200 <= received.status < 300:
            continue
        first = events.setdefault(received.event_id, received.body)
        assert first == received.body, ("same webhook-id, another event", received.event_id)
    return events


def outbox_waiting(client: redis.Redis) -> int:
    """Events in the outbox stream or waiting for a retry (not delivered, not parked)."""
    stream = outbox_stream()
    return int(client.xlen(stream)) + int(client.zcard(f"{stream}:retry"))
