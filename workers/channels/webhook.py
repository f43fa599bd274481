"""The webhook channel: a piece as signed JSON, POSTed to the initiative's own endpoint.

The body names the delivery (``key``), the piece, its kind, initiative, campaign and slot, and
carries every file base64-encoded with its name, media type and sha256, so a receiver needs
nothing else from us. Two headers let the receiver trust and de-duplicate it:

* ``X-Depesche-Timestamp`` (Unix seconds) and ``X-Depesche-Signature: sha256=<hex>``, the
  HMAC-SHA256 of ``"{timestamp}.{body}"`` with the initiative's secret
  (``DEPESCHE_WEBHOOK_SECRET_<SLUG>``). Signing the timestamp with the body lets a receiver
  refuse replays: :func:`verify_signature` accepts only a fresh timestamp.
* ``Idempotency-Key``: the delivery key, the same on every attempt, so a retry after a lost
  answer is recognisable as a repeat.

The URL comes from ``channels.webhook.url`` in initiatives.yaml. It is reached through the same
SSRF guard as feeds (:mod:`content.feeds.connection`): only public addresses, unless the
workspace allows a network in ``[fetch] allow_networks`` (a receiver on this machine during
development or tests); redirects are not followed. 2xx is success; 429, 5xx, timeouts and
connection errors are worth another try (with the server's ``Retry-After``); any other answer
is permanent.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import tomllib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from urllib.parse import urlsplit

import requests

from campaigns.schema import FetchSection, Initiative
from config.settings import Settings
from content.feeds.addresses import AddressGuard, AddressPolicy, AddressRefused, ResolutionFailed
from content.feeds.connection import guarded_session
from workers.channels.base import Outgoing, PermanentError, TransientError
from workers.channels.credentials import ChannelNotReady, secret_for
from workers.channels.piece_key import origin_of
from workers.channels.retry_after import retry_after

SECRET_VARIABLE: Final = "DEPESCHE_WEBHOOK_SECRET"
TIMESTAMP_HEADER: Final = "X-Depesche-Timestamp"
SIGNATURE_HEADER: Final = "X-Depesche-Signature"
DEFAULT_TOLERANCE: Final = timedelta(minutes=5)
USER_AGENT: Final = "Depesche-Webhook/1 (+https://depesche.example.org)"

Clock = Callable[[], datetime]


def _system_clock() -> datetime:
    return datetime.now(UTC)


class SignatureError(Exception):
    """A webhook request whose signature or timestamp a receiver must not accept."""


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Depesche-Signature`` value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def verify_signature(
    secret: str,
    timestamp: str,
    body: bytes,
    header: str,
    *,
    now: datetime,
    tolerance: timedelta = DEFAULT_TOLERANCE,
) -> None:
    """For receivers: raise :class:`SignatureError` unless ``header`` signs this body and
    ``timestamp`` lies within ``tolerance`` of ``now`` (a replayed old request is refused).

    ``timestamp`` and ``header`` are the raw ``X-Depesche-Timestamp`` and
    ``X-Depesche-Signature`` values; ``body`` the raw request body, before any JSON parsing.
    """
    if not timestamp.isdigit():
        raise SignatureError(f"{TIMESTAMP_HEADER} missing or not Unix seconds")
    sent = datetime.fromtimestamp(int(timestamp), UTC)
    if abs(now - sent) > tolerance:
        raise SignatureError(f"{TIMESTAMP_HEADER} is outside the tolerance of {tolerance}")
    if not header.startswith("sha256="):
        raise SignatureError(f"{SIGNATURE_HEADER} missing or not sha256=<hex>")
    if not hmac.compare_digest(sign(secret, timestamp, body).encode(), header.strip().encode()):
        raise SignatureError(f"{SIGNATURE_HEADER} does not match the body")


def payload(outgoing: Outgoing) -> dict[str, Any]:
    """The JSON document for one delivery: the piece and every file it has.

    Campaign and slot come from ``options`` when the caller set them, else from the piece key.
    """
    origin = origin_of(outgoing.piece_key, outgoing.initiative)
    return {
        "key": outgoing.delivery_key,
        "piece": outgoing.piece_key,
        "kind": outgoing.kind,
        "initiative": outgoing.initiative,
        "campaign": outgoing.options.get("campaign") or origin.campaign,
        "slot": outgoing.options.get("slot") or origin.slot,
        "files": [
            {
                "name": f.name,
                "media_type": f.media_type,
                "size": len(f.content),
                "sha256": hashlib.sha256(f.content).hexdigest(),
                "content_base64": base64.b64encode(f.content).decode(),
            }
            for f in outgoing.files
        ],
    }


def shown(url: str) -> str:
    """The URL without user info, query and fragment, which may carry secrets."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


class _Connection:
    def __init__(self, channel: WebhookChannel, session: requests.Session) -> None:
        self.channel = channel
        self.session = session

    def send(self, outgoing: Outgoing) -> str:
        channel = self.channel
        where = f"webhook {shown(channel.url)}"
        body = json.dumps(payload(outgoing), ensure_ascii=False, sort_keys=True).encode()
        timestamp = str(int(channel.clock().timestamp()))
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": USER_AGENT,
            "Idempotency-Key": outgoing.delivery_key,
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(channel.secret, timestamp, body),
        }
        try:
            response = self.session.post(
                channel.url,
                data=body,
                headers=headers,
                timeout=channel.timeout,
                allow_redirects=False,
            )
        except AddressRefused as exc:
            raise PermanentError(f"{where}: {exc}") from None
        except ResolutionFailed as exc:
            raise TransientError(f"{where}: {exc}") from None
        except requests.Timeout:
            raise TransientError(f"{where}: timed out") from None
        except requests.RequestException as exc:
            raise TransientError(f"{where}: {type(exc).__name__}") from None
        status = response.status_code
        if 200 <= status < 300:
            return _receipt(response, outgoing)
        message = f"{where} answered HTTP {status} {response.reason or ''}".rstrip()
        if status == 429 or status >= 500:
            wait = retry_after(response.headers, now=channel.clock())
            raise TransientError(message, retry_after=wait)
        raise PermanentError(message)


def _receipt(response: requests.Response, outgoing: Outgoing) -> str:
    """The receiver's id for the delivery if it gives one, else our own key."""
    try:
        document = response.json()
    except ValueError:
        document = None
    if isinstance(document, dict) and isinstance(document.get("id"), str | int):
        return str(document["id"])[:200]
    return outgoing.delivery_key


class WebhookChannel:
    """POSTs each delivery to one URL, signed with one secret; one HTTP session per batch."""

    name = "webhook"

    def __init__(
        self,
        url: str,
        secret: str,
        *,
        allow_networks: Sequence[str] = (),
        timeout: tuple[float, float] = (10.0, 30.0),
        clock: Clock = _system_clock,
    ) -> None:
        self.url = url
        self.secret = secret
        self.guard = AddressGuard(AddressPolicy.allowing(allow_networks))
        self.timeout = timeout
        self.clock = clock

    def __repr__(self) -> str:  # never show the secret
        return f"WebhookChannel({shown(self.url)})"

    @contextmanager
    def connect(self) -> Iterator[_Connection]:
        session = guarded_session(self.guard, connections=1)
        try:
            yield _Connection(self, session)
        finally:
            session.close()


def workspace_allow_networks(settings: Settings) -> list[str]:
    """``[fetch] allow_networks`` of the workspace's depesche.toml (none if it has none)."""
    path = settings.workspace / "depesche.toml"
    if not path.is_file():
        return []
    with path.open("rb") as handle:
        document = tomllib.load(handle)
    return FetchSection.model_validate(document.get("fetch", {})).allow_networks


def channel_for(
    initiative: Initiative,
    settings: Settings,
    *,
    environ: Mapping[str, str] | None = None,
    allow_networks: Sequence[str] | None = None,
    clock: Clock = _system_clock,
) -> WebhookChannel:
    """The webhook channel of one initiative: its URL, and its secret from the environment.

    ``allow_networks`` defaults to the workspace's ``[fetch] allow_networks``.
    """
    config = initiative.channels.webhook
    if config is None:
        raise ChannelNotReady(
            f"initiative {initiative.slug}: no channels.webhook.url in initiatives.yaml"
        )
    secret = secret_for(SECRET_VARIABLE, initiative.slug, "webhook signing secret", environ)
    networks = workspace_allow_networks(settings) if allow_networks is None else allow_networks
    return WebhookChannel(config.url, secret, allow_networks=networks, clock=clock)
