"""The Bluesky channel: a social piece as ``app.bsky.feed.post`` records, through atproto.

What is sent is what the composer made (``content/composers/social.py``): for each post
``social-bluesky.json`` (or ``-1.json``, ``-2.json``, … for a thread) with the text, its facets
at UTF-8 byte offsets and the language, and ``social-bluesky-media.json`` naming the images and
their alt texts, which go into the first post as ``app.bsky.embed.images``. A thread's later
posts are replies (root and parent) to the ones before.

Exactly once: each record's key is a TID derived from the piece's time and the delivery key
(:mod:`workers.channels.tid`), so a repeated ``createRecord`` after a lost answer or a crash
is refused by the PDS instead of posting twice. A refusal is then checked with ``getRecord``:
a record already at that key is our own earlier attempt and counts as sent. (The reference PDS
answers a taken key with HTTP 500, newer servers with ``RecordAlreadyExists``; the check works
for either.) Images are uploaded again on such a retry; the PDS drops unreferenced blobs.

The account is ``channels.bluesky.handle`` on ``channels.bluesky.pds`` in initiatives.yaml; its
app password comes from ``DEPESCHE_BLUESKY_PASSWORD_<SLUG>`` (slug upper-cased, dashes as
underscores) and never appears in an error message.
"""

from __future__ import annotations

import hashlib
import json
import re
import ssl
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from atproto import Client, models
from atproto_client.exceptions import RequestErrorBase, UnauthorizedError
from atproto_client.request import Request

from campaigns.schema import Initiative
from config.settings import Settings
from workers.channels.base import Attachment, Outgoing, PermanentError, TransientError
from workers.channels.credentials import ChannelNotReady, secret_for
from workers.channels.piece_key import origin_of
from workers.channels.retry_after import retry_after
from workers.channels.tid import tid_for

PASSWORD_VARIABLE: Final = "DEPESCHE_BLUESKY_PASSWORD"
POST: Final = "app.bsky.feed.post"
MAX_IMAGES: Final = 4
_POST_FILE = re.compile(r"^social-bluesky(?:-(\d+))?\.json$")
MEDIA_FILE: Final = "social-bluesky-media.json"

Clock = Callable[[], datetime]
StrongRef = dict[str, str]


def _system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class BlueskyAccount:
    pds: str
    handle: str
    password: str = field(repr=False)


def posts_of(outgoing: Outgoing) -> list[dict[str, Any]]:
    """The post records' text, facets and languages, in thread order."""
    numbered = []
    for attachment in outgoing.files:
        match = _POST_FILE.match(attachment.name)
        if match is not None:
            numbered.append((int(match[1] or 0), attachment))
    if not numbered:
        raise PermanentError(f"piece {outgoing.piece_key} has no social-bluesky.json to post")
    posts = []
    for _, attachment in sorted(numbered, key=lambda pair: pair[0]):
        document = _json(outgoing, attachment)
        if not isinstance(document, dict) or not isinstance(document.get("text"), str):
            raise PermanentError(f"piece {outgoing.piece_key}: {attachment.name} has no text")
        post: dict[str, Any] = {"text": document["text"]}
        if document.get("facets"):
            post["facets"] = document["facets"]
        if document.get("langs"):
            post["langs"] = document["langs"]
        posts.append(post)
    return posts


@dataclass(frozen=True)
class Image:
    attachment: Attachment
    alt: str
    width: int | None
    height: int | None


def images_of(outgoing: Outgoing) -> list[Image]:
    """The piece's images with their alt texts, as ``social-bluesky-media.json`` lists them."""
    listing = outgoing.file(MEDIA_FILE)
    if listing is None:
        return []
    by_name = {attachment.name: attachment for attachment in outgoing.files}
    images = []
    entries = _json(outgoing, listing)
    for entry in entries[:MAX_IMAGES] if isinstance(entries, list) else []:
        attachment = by_name.get(str(entry.get("file"))) if isinstance(entry, dict) else None
        if attachment is None:
            raise PermanentError(
                f"piece {outgoing.piece_key}: {MEDIA_FILE} names a file the piece lacks"
            )
        images.append(
            Image(attachment, entry.get("alt") or "", entry.get("width"), entry.get("height"))
        )
    return images


def _json(outgoing: Outgoing, attachment: Attachment) -> Any:
    try:
        return json.loads(attachment.content)
    except ValueError as exc:
        raise PermanentError(f"piece {outgoing.piece_key}: {attachment.name}: {exc}") from None


# Without a piece time, record keys fall in the year after this instant, placed by the
# delivery key's hash: still valid and stable TIDs, only not in the order pieces were made.
_FALLBACK_EPOCH: Final = datetime(2024, 1, 1, tzinfo=UTC)
_FALLBACK_SPAN: Final = 365 * 24 * 3600


def piece_time(outgoing: Outgoing) -> datetime:
    """The clock of the record keys, the same on every attempt (never the time of sending):
    ``options["created_at"]`` (ISO 8601 with a zone) if the caller gives it, else the due time
    of a scheduled slot from the piece key, else a time fixed by the delivery key."""
    value = outgoing.options.get("created_at")
    if value:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            moment = None
        if moment is None or moment.tzinfo is None:
            raise PermanentError(
                f"piece {outgoing.piece_key}: options['created_at'] must be a timezone-aware "
                f"ISO 8601 time, got {value!r}"
            )
        return moment
    due_at = origin_of(outgoing.piece_key, outgoing.initiative).due_at
    if due_at is not None:
        return due_at
    digest = hashlib.sha256(outgoing.delivery_key.encode()).digest()
    offset = int.from_bytes(digest[:8], "big") % _FALLBACK_SPAN
    return _FALLBACK_EPOCH + timedelta(seconds=offset)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class _Connection:
    def __init__(self, channel: BlueskyChannel, client: Client, did: str) -> None:
        self.channel = channel
        self.client = client
        self.did = did

    def send(self, outgoing: Outgoing) -> str:
        posts = posts_of(outgoing)
        images = images_of(outgoing)
        created = piece_time(outgoing)
        root: StrongRef | None = None
        parent: StrongRef | None = None
        for number, post in enumerate(posts, start=1):
            record: dict[str, Any] = {
                "$type": POST,
                **post,
                "createdAt": _iso(self.channel.clock()),
            }
            if number == 1 and images:
                record["embed"] = self._embed(images)
            if root is not None and parent is not None:
                record["reply"] = {"root": root, "parent": parent}
            reference = self._create(tid_for(created, f"{outgoing.delivery_key}#{number}"), record)
            root = root or reference
            parent = reference
        assert root is not None
        return root["uri"]

    def _embed(self, images: list[Image]) -> dict[str, Any]:
        entries = []
        for image in images:
            try:
                uploaded = self.client.com.atproto.repo.upload_blob(
                    image.attachment.content,
                    headers={"Content-Type": image.attachment.media_type},
                )
            except RequestErrorBase as exc:
                raise self.channel.classified(exc, "uploadBlob") from None
            blob = uploaded.blob
            entry: dict[str, Any] = {
                "alt": image.alt,
                "image": {
                    "$type": "blob",
                    "ref": {"$link": str(blob.ref.link if hasattr(blob.ref, "link") else blob.ref)},
                    "mimeType": blob.mime_type,
                    "size": blob.size,
                },
            }
            if image.width and image.height:
                entry["aspectRatio"] = {"width": image.width, "height": image.height}
            entries.append(entry)
        return {"$type": "app.bsky.embed.images", "images": entries}

    def _create(self, rkey: str, record: dict[str, Any]) -> StrongRef:
        data = models.ComAtprotoRepoCreateRecord.Data(
            repo=self.did, collection=POST, rkey=rkey, record=record
        )
        try:
            created = self.client.com.atproto.repo.create_record(data)
            return {"uri": created.uri, "cid": created.cid}
        except RequestErrorBase as exc:
            refusal = exc
        status = refusal.response.status_code if refusal.response is not None else None
        if status in (401, 403, 429):
            raise self.channel.classified(refusal, "createRecord")
        existing = self._existing(rkey)
        if existing is not None:
            return existing  # our own earlier attempt: sent already
        raise self.channel.classified(refusal, "createRecord")

    def _existing(self, rkey: str) -> StrongRef | None:
        params = models.ComAtprotoRepoGetRecord.Params(repo=self.did, collection=POST, rkey=rkey)
        try:
            found = self.client.com.atproto.repo.get_record(params)
        except RequestErrorBase as exc:
            response = exc.response
            content = response.content if response is not None else None
            if response is not None and response.status_code == 400:
                error = getattr(content, "error", None)
                if error in ("RecordNotFound", "InvalidRequest"):
                    return None
            raise self.channel.classified(exc, "getRecord") from None
        if found.cid is None:
            return None
        return {"uri": found.uri, "cid": found.cid}


class BlueskyChannel:
    """Posts to one account; one login per batch."""

    name = "bluesky"

    def __init__(
        self,
        account: BlueskyAccount,
        *,
        ca_file: str | None = None,
        timeout: float = 30.0,
        clock: Clock = _system_clock,
    ) -> None:
        self.account = account
        self.ca_file = ca_file
        self.timeout = timeout
        self.clock = clock

    def __repr__(self) -> str:
        return f"BlueskyChannel({self.account.handle} on {self.account.pds})"

    def classified(self, exc: RequestErrorBase, what: str) -> Exception:
        """Our error for a failed call, with the server's reason but never a credential."""
        where = f"Bluesky {what} for {self.account.handle} at {self.account.pds}"
        response = exc.response
        if response is None:
            return TransientError(f"{where}: {type(exc).__name__}")
        content = response.content
        # An XRPC error body: {"error": "InvalidRequest", "message": "..."}.
        reason = " ".join(
            str(part)
            for part in (getattr(content, "error", None), getattr(content, "message", None))
            if part
        )
        message = f"{where}: HTTP {response.status_code} {reason}".rstrip()
        status = response.status_code
        if status == 429 or status >= 500:
            wait = retry_after(response.headers, now=self.clock())
            return TransientError(message, retry_after=wait)
        return PermanentError(message)

    @contextmanager
    def connect(self) -> Iterator[_Connection]:
        verify: ssl.SSLContext | bool = True
        if self.ca_file is not None:
            verify = ssl.create_default_context(cafile=self.ca_file)
        request = Request(verify=verify, timeout=self.timeout)
        client = Client(base_url=self.account.pds, request=request)
        try:
            try:
                profile = client.login(self.account.handle, self.account.password)
            except UnauthorizedError as exc:
                raise PermanentError(
                    f"Bluesky login refused for {self.account.handle} at {self.account.pds}"
                    f" (HTTP {exc.response.status_code if exc.response else '?'}); check the"
                    f" app password in {PASSWORD_VARIABLE}_<SLUG>"
                ) from None
            except RequestErrorBase as exc:
                raise self.classified(exc, "createSession") from None
            # The repo is the account's DID; its handle serves too on a PDS without profiles.
            yield _Connection(self, client, profile.did if profile else self.account.handle)
        finally:
            request.close()


def channel_for(
    initiative: Initiative,
    settings: Settings,
    *,
    environ: Mapping[str, str] | None = None,
    ca_file: str | None = None,
    clock: Clock = _system_clock,
) -> BlueskyChannel:
    """The Bluesky channel of one initiative: handle and PDS from the workspace, the app
    password from ``DEPESCHE_BLUESKY_PASSWORD_<SLUG>``."""
    config = initiative.channels.bluesky
    if config is None or config.handle is None:
        raise ChannelNotReady(
            f"initiative {initiative.slug}: no channels.bluesky.handle in initiatives.yaml"
        )
    password = secret_for(PASSWORD_VARIABLE, initiative.slug, "Bluesky app password", environ)
    account = BlueskyAccount(config.pds, config.handle, password)
    return BlueskyChannel(account, ca_file=ca_file, clock=clock)
