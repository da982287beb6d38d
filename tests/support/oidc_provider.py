"""A real OpenID provider for tests: the npm package ``oidc-provider`` (tests/support/oidc/,
installed by scripts/test) run by Node on loopback, with its dev login and consent forms.

One Node process serves every provider of :class:`OidcProvider` (the customer's IdP, and
"another provider" for the mix-up test), each on a free port, issuer ``http://127.0.0.1:P``.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx

from tests.support.openbao import free_port

__all__ = ["IDP_DIR", "OidcProvider", "Provider"]

IDP_DIR = Path(__file__).parent / "oidc"


class Provider:
    """One provider of the process: its issuer and its test hooks."""

    def __init__(self, port: int, clients: list[dict[str, Any]]) -> None:
        self.port = port
        self.issuer = f"http://127.0.0.1:{port}"
        self.clients = clients

    def token_requests(self) -> list[dict[str, Any]]:
        """What reached the token endpoint, as sent: ``authorization`` (the header or None),
        ``params`` (the form), ``status`` (the IdP's answer)."""
        found: list[dict[str, Any]] = httpx.get(f"{self.issuer}/_test/token-requests").json()
        return found

    def reset(self) -> None:
        """Forget the recorded token requests, and any delay."""
        httpx.post(f"{self.issuer}/_test/reset").raise_for_status()

    def sign_in(
        self, http: httpx.Client, url: str, login: str = "ada", *, consent: bool = True
    ) -> str:
        """Follow ``url`` (an authorization request) through the dev login and consent
        forms as a browser would, with ``http``'s cookies; the URL the IdP sends the browser
        back to (the callback, with ``code`` or ``error``). ``consent=False`` cancels there."""
        location = url
        for _ in range(12):
            if not location.startswith(self.issuer):
                return location
            answer = http.get(location)
            if answer.status_code in (302, 303):
                location = urljoin(location, answer.headers["location"])
                continue
            action = re.search(r'<form[^>]*action="([^"]+)"', answer.text)
            prompt = re.search(r'name="prompt" value="(\w+)"', answer.text)
            assert action, answer.text[:500]
            assert prompt, answer.text[:500]
            if prompt.group(1) == "consent" and not consent:
                abort = re.search(r'href="([^"]+/abort)"', answer.text)
                assert abort
                answer = http.get(abort.group(1))
            else:
                form = {"prompt": prompt.group(1), "login": login, "password": "any"}
                answer = http.post(action.group(1), data=form)
            location = urljoin(action.group(1), answer.headers["location"])
        raise AssertionError("the IdP kept the browser in its forms")

    def hold(self) -> None:
        """Make the next redirect back to a client a page with its link (``a#held``)."""
        httpx.post(f"{self.issuer}/_test/hold").raise_for_status()

    def delay(self, seconds: float) -> None:
        """Hold every token and userinfo answer ``seconds`` (a slow IdP)."""
        httpx.post(f"{self.issuer}/_test/delay", params={"ms": int(seconds * 1000)})


class OidcProvider:
    """``with OidcProvider([clients], [clients2], users={...}) as idp: idp.providers[0]``

    Each argument is one provider's client list (oidc-provider's client metadata; every
    ``redirect_uris`` must be given).
    """

    def __init__(self, *client_lists: list[dict[str, Any]], users: dict[str, Any]) -> None:
        self.providers = [Provider(free_port(), clients) for clients in client_lists]
        self._users = users
        self._process: subprocess.Popen[str] | None = None
        self.output: list[str] = []

    def __enter__(self) -> OidcProvider:
        node = shutil.which("node")
        if node is None or not (IDP_DIR / "node_modules" / "oidc-provider").is_dir():
            raise RuntimeError("node or oidc-provider is missing: run scripts/test (npm ci)")
        config = {
            "providers": [{"port": p.port, "clients": p.clients} for p in self.providers],
            "users": self._users,
        }
        self._process = subprocess.Popen(
            [node, str(IDP_DIR / "idp.mjs"), json.dumps(config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=IDP_DIR,
        )
        assert self._process.stdout is not None
        ready = threading.Event()

        def read(stream: Any) -> None:
            for line in stream:
                self.output.append(line.rstrip())
                if line.strip() == "ready":
                    ready.set()

        threading.Thread(target=read, args=(self._process.stdout,), daemon=True).start()
        if not ready.wait(20):
            self.__exit__()
            raise RuntimeError("oidc-provider did not start: " + "\n".join(self.output))
        return self

    def __exit__(self, *exc: object) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        if self._process is not None and self._process.stdout is not None:
            self._process.stdout.close()
