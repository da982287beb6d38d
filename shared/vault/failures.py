"""Vault's failures, in our terms: hvac and transport errors mapped to :mod:`shared.errors`,
and classed by whether the request may have been served (what failover may resend).

Every hvac or transport error is translated here, so callers distinguish *unreachable* /
*sealed* (retry later) from *forbidden* (fix the policy) and *not found*.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import hvac.exceptions as hvac_errors
import requests
import urllib3.exceptions

from shared.errors import (
    VaultError,
    VaultForbidden,
    VaultNotFound,
    VaultSealed,
    VaultUnavailable,
)

__all__ = [
    "TransitDecryptRefused",
    "call_mapped",
    "describe",
    "is_decrypt_refusal",
    "lost",
    "never_arrived",
    "not_served",
    "refuse_redirects",
    "refused",
]

T = TypeVar("T")

#: OpenBao answers a failed RSA decryption with a 500 whose message starts like this
#: (transit's path_decrypt.go wraps the crypto error), unlike an outage's 500.
_RSA_DECRYPT_FAILURE = "failed to RSA decrypt"
#: A standby's 500 while no active node is known (an election): the request was not served.
_NO_ACTIVE_NODE = "active cluster node not found"


class _Redirected(requests.exceptions.RequestException):
    """Vault answered 3xx. A standby redirects to the active node when it cannot forward a
    request to it (OpenBao 2.7: while the active node is gone, before a new one is elected).
    We never follow redirects (the token would go wherever the Location says), and hvac
    would hand back the bare response in place of the JSON it parses."""


def refuse_redirects(response: requests.Response, *args: Any, **kwargs: Any) -> None:
    """A ``requests`` response hook: turn a 3xx into :class:`_Redirected`."""
    if response.is_redirect or 300 <= response.status_code < 400:
        status = response.status_code
        response.close()
        raise _Redirected(f"Vault answered HTTP {status} (a standby without an active node?)")


class TransitDecryptRefused(VaultError):
    """Transit refused to decrypt this ciphertext (bad bytes, retired or unknown version)."""

    code = "VAULT_DECRYPT_REFUSED"


def call_mapped(fn: Callable[[], T]) -> T:
    """``fn()``, its hvac and transport errors raised as our :class:`VaultError` tree."""
    try:
        return fn()
    except hvac_errors.InvalidPath as exc:
        raise VaultNotFound(describe(exc) if exc.errors else "no such path") from exc
    except (hvac_errors.Forbidden, hvac_errors.Unauthorized) as exc:
        raise VaultForbidden(describe(exc)) from exc
    except (hvac_errors.VaultDown, hvac_errors.VaultNotInitialized) as exc:
        raise VaultSealed(f"Vault is sealed or not initialised: {describe(exc)}") from exc
    except (hvac_errors.InternalServerError, hvac_errors.BadGateway) as exc:
        raise VaultUnavailable(f"Vault failed: {describe(exc)}") from exc
    except hvac_errors.RateLimitExceeded as exc:
        raise VaultUnavailable(f"Vault rate limit: {describe(exc)}") from exc
    except hvac_errors.VaultError as exc:
        raise VaultError(describe(exc)) from exc
    except _Redirected as exc:
        raise VaultUnavailable(str(exc)) from exc
    except requests.exceptions.Timeout as exc:
        raise VaultUnavailable("Vault did not answer in time") from exc
    except requests.exceptions.RequestException as exc:
        raise VaultUnavailable(f"Vault unreachable: {type(exc).__name__}") from exc


def is_decrypt_refusal(exc: BaseException) -> bool:
    """True for the 500 Transit gives when RSA decryption of the ciphertext fails."""
    errors = getattr(exc, "errors", None) or []
    return isinstance(exc, hvac_errors.InternalServerError) and any(
        _RSA_DECRYPT_FAILURE in str(e) for e in errors
    )


def describe(exc: BaseException) -> str:
    """Vault's own messages, else the error's text without hvac's ``, on URL`` suffix."""
    errors = getattr(exc, "errors", None)
    if errors:
        return "; ".join(str(e).strip() for e in errors)
    return str(exc).split(", on ")[0].strip() or type(exc).__name__


def refused(exc: BaseException | None) -> bool:
    """A connection Vault refused: nothing was sent, so a retry cannot repeat an effect.

    Only a failed connect counts. A connection reset *after* the request went out (the
    answer was lost) is not retried: a rotate or a create may already have happened.
    """
    if not isinstance(exc, requests.exceptions.ConnectionError) or isinstance(
        exc, requests.exceptions.Timeout
    ):
        return False
    cause = exc.args[0] if exc.args else None
    return isinstance(getattr(cause, "reason", cause), urllib3.exceptions.NewConnectionError)


def not_served(exc: VaultUnavailable) -> bool:
    """The node did not serve the request, so another node may be sent it: refused
    connection, sealed or uninitialised node, or a standby without an active node."""
    cause = exc.__cause__
    if isinstance(exc, VaultSealed) or isinstance(cause, _Redirected) or refused(cause):
        return True
    errors = getattr(cause, "errors", None) or []
    return isinstance(cause, hvac_errors.InternalServerError) and any(
        _NO_ACTIVE_NODE in str(e) for e in errors
    )


def never_arrived(exc: VaultUnavailable) -> bool:
    """The request reached no node able to apply it (refused, or a sealed node)."""
    return isinstance(exc, VaultSealed) or refused(exc.__cause__)


def lost(exc: VaultUnavailable) -> bool:
    """A transport failure after the request may have been sent (timeout, reset): not
    retried, but a sign that this node may be gone."""
    cause = exc.__cause__
    return isinstance(cause, requests.exceptions.RequestException) and not refused(cause)
