"""The Mastodon channel: a social piece as statuses, through Mastodon.py.

What is sent is what the composer made (``content/composers/social.py``): ``social-mastodon.txt``
(or ``-1.txt``, ``-2.txt``, … for a thread, posted as replies to the one before) and the images
listed in ``social-mastodon-media.json``, uploaded with their alt text as ``description`` and
attached to the first status.

Exactly once: every status carries an ``Idempotency-Key`` derived from the delivery key and its
place in the thread, so a retry after a lost answer gets the status the first attempt created
instead of a second one. Mastodon keeps these keys for an hour; a delivery left ``unknown``
for longer is the operator's call (``depesche deliveries``). Images are uploaded again on such a
retry; Mastodon removes unattached media by itself.

The instance is ``channels.mastodon.instance`` in initiatives.yaml; the access token comes from
``DEPESCHE_MASTODON_TOKEN_<SLUG>`` (slug upper-cased, dashes as underscores) and never appears
in an error message. Rate limits are not waited out here (``ratelimit_method="throw"``): a 429
becomes a :class:`TransientError` with the server's ``Retry-After`` or ``X-RateLimit-Reset``,
and the delivery is retried later without holding a worker.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any, Final

import requests
from mastodon import Mastodon
from mastodon.errors import (
    MastodonAPIError,
    MastodonError,
    MastodonNetworkError,
    MastodonRatelimitError,
    MastodonServerError,
    MastodonUnauthorizedError,
)

from campaigns.schema import Initiative
from config.settings import Settings
from workers.channels.base import Attachment, Outgoing, PermanentError, TransientError
from workers.channels.credentials import ChannelNotReady, secret_for
from workers.channels.retry_after import retry_after

TOKEN_VARIABLE: Final = "DEPESCHE_MASTODON_TOKEN"
USER_AGENT: Final = "Depesche/0.1 (campaign engine; +https://depesche.example.org)"
MAX_IMAGES: Final = 4
MEDIA_FILE: Final = "social-mastodon-media.json"
_POST_FILE = re.compile(r"^social-mastodon(?:-(\d+))?\.txt$")
# Mastodon answers 422 while an attached image is still being processed.
_PROCESSING = re.compile(r"not finished processing", re.IGNORECASE)
_PROCESSING_WAIT: Final = 5.0

Clock = Callable[[], datetime]


def _system_clock() -> datetime:
    return datetime.now(UTC)


def idempotency_key(delivery_key: str, number: int) -> str:
    """The ``Idempotency-Key`` of the ``number``-th status of a delivery (1 for a single post)."""
    digest = hashlib.sha256(f"{delivery_key}#{number}".encode()).hexdigest()
    return f"depesche-{digest[:48]}"


def posts_of(outgoing: Outgoing) -> list[str]:
    """The status texts, in thread order."""
    numbered = []
    for attachment in outgoing.files:
        match = _POST_FILE.match(attachment.name)
        if match is not None:
            numbered.append((int(match[1] or 0), attachment.content.decode()))
    if not numbered:
        raise PermanentError(f"piece {outgoing.piece_key} has no social-mastodon.txt to post")
    return [text for _, text in sorted(numbered)]


@dataclass(frozen=True)
class Image:
    attachment: Attachment
    alt: str


def images_of(outgoing: Outgoing) -> list[Image]:
    """The piece's images with their alt texts, as ``social-mastodon-media.json`` lists them."""
    listing = outgoing.file(MEDIA_FILE)
    if listing is None:
        return []
    by_name = {attachment.name: attachment for attachment in outgoing.files}
    images = []
    try:
        entries = json.loads(listing.content)
    except ValueError as exc:
        raise PermanentError(f"piece {outgoing.piece_key}: {MEDIA_FILE}: {exc}") from None
    for entry in entries[:MAX_IMAGES] if isinstance(entries, list) else []:
        attachment = by_name.get(str(entry.get("file"))) if isinstance(entry, dict) else None
        if attachment is None:
            raise PermanentError(
                f"piece {outgoing.piece_key}: {MEDIA_FILE} names a file the piece lacks"
            )
        images.append(Image(attachment, entry.get("alt") or ""))
    return images


@dataclass(frozen=True)
class MastodonAccount:
    instance: str
    token: str = field(repr=False)


class _Connection:
    def __init__(self, channel: MastodonChannel, client: Mastodon, last: dict[str, Any]) -> None:
        self.channel = channel
        self.client = client
        self._last = last  # the last HTTP response's headers, for Retry-After

    def send(self, outgoing: Outgoing) -> str:
        texts = posts_of(outgoing)
        media_ids = [self._upload(image) for image in images_of(outgoing)]
        language = outgoing.options.get("language") or self.channel.language
        first: str | None = None
        previous: str | None = None
        for number, text in enumerate(texts, start=1):
            post = partial(
                self.client.status_post,
                text,
                in_reply_to_id=previous,
                media_ids=media_ids if number == 1 and media_ids else None,
                language=language,
                idempotency_key=idempotency_key(outgoing.delivery_key, number),
            )
            status = self._call("POST /api/v1/statuses", post)
            previous = str(status["id"])
            first = first or previous
        assert first is not None
        return first

    def _upload(self, image: Image) -> str:
        media = self._call(
            "POST /api/v2/media",
            lambda: self.client.media_post(
                image.attachment.content,
                mime_type=image.attachment.media_type,
                description=image.alt,
                file_name=image.attachment.name,
            ),
        )
        return str(media["id"])

    def _call(self, what: str, call: Callable[[], Any]) -> Any:
        self._last.clear()
        try:
            return call()
        except MastodonError as exc:
            raise self.channel.classified(exc, what, self._last) from None


class MastodonChannel:
    """Posts to one account on one instance; one HTTP session per batch."""

    name = "mastodon"

    def __init__(
        self,
        account: MastodonAccount,
        *,
        language: str | None = None,
        ca_file: str | None = None,
        timeout: float = 30.0,
        clock: Clock = _system_clock,
    ) -> None:
        self.account = account
        self.language = language  # ISO 639-1, the statuses' language unless a piece says
        self.ca_file = ca_file
        self.timeout = timeout
        self.clock = clock

    def __repr__(self) -> str:
        return f"MastodonChannel({self.account.instance})"

    def classified(self, exc: MastodonError, what: str, last: Mapping[str, str]) -> Exception:
        """Our error for a failed call: the status and the server's reason, never the token."""
        where = f"Mastodon {what} at {self.account.instance}"
        if isinstance(exc, MastodonRatelimitError):
            wait = retry_after(last, now=self.clock())
            return TransientError(f"{where}: HTTP 429 rate limited", retry_after=wait)
        if isinstance(exc, MastodonNetworkError):
            return TransientError(f"{where}: {type(exc).__name__}")
        if not isinstance(exc, MastodonAPIError):
            return PermanentError(f"{where}: {type(exc).__name__}")
        status = exc.args[1] if len(exc.args) > 1 else "?"
        reason = exc.args[3] if len(exc.args) > 3 and exc.args[3] else ""
        message = f"{where}: HTTP {status} {reason}".rstrip().replace(self.account.token, "***")
        if isinstance(exc, MastodonUnauthorizedError):
            return PermanentError(f"{message}; check the access token in {TOKEN_VARIABLE}_<SLUG>")
        if isinstance(exc, MastodonServerError):
            return TransientError(message, retry_after=retry_after(last, now=self.clock()))
        if status == 422 and _PROCESSING.search(str(reason)):
            return TransientError(message, retry_after=_PROCESSING_WAIT)
        return PermanentError(message)

    @contextmanager
    def connect(self) -> Iterator[_Connection]:
        session = requests.Session()
        if self.ca_file is not None:
            # An explicit CA must win over REQUESTS_CA_BUNDLE, which requests prefers otherwise.
            session.verify = self.ca_file
            session.trust_env = False
        last: dict[str, str] = {}

        def remember(response: requests.Response, *args: Any, **kwargs: Any) -> None:
            last.clear()
            last.update(response.headers)

        session.hooks["response"].append(remember)
        client = Mastodon(
            access_token=self.account.token,
            api_base_url=self.account.instance,
            session=session,
            ratelimit_method="throw",
            request_timeout=self.timeout,
            user_agent=USER_AGENT,
        )
        try:
            yield _Connection(self, client, last)
        finally:
            session.close()


def channel_for(
    initiative: Initiative,
    settings: Settings,
    *,
    environ: Mapping[str, str] | None = None,
    ca_file: str | None = None,
    clock: Clock = _system_clock,
) -> MastodonChannel:
    """The Mastodon channel of one initiative: the instance from the workspace, the token from
    ``DEPESCHE_MASTODON_TOKEN_<SLUG>``."""
    config = initiative.channels.mastodon
    if config is None:
        raise ChannelNotReady(
            f"initiative {initiative.slug}: no channels.mastodon.instance in initiatives.yaml"
        )
    token = secret_for(TOKEN_VARIABLE, initiative.slug, "Mastodon access token", environ)
    account = MastodonAccount(config.instance.rstrip("/"), token)
    language = initiative.locale.split("_")[0].lower() or None
    return MastodonChannel(account, language=language, ca_file=ca_file, clock=clock)
