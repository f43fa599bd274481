"""Fake Mastodon, Bluesky PDS and webhook receiver: real HTTP servers on 127.0.0.1 for tests.

Each one is a threaded ``http.server`` on a free loopback port that the real client library
talks to (Mastodon.py, atproto's ``Client``, requests), never a patched client. Mastodon and the
PDS serve HTTPS with a certificate from a throwaway ``trustme`` CA, because the workspace only
accepts ``https://`` origins for them; the clients are pointed at that CA.

They implement what their documentation specifies for the calls Depesche makes, plus every call
the clients make around them (found by running the clients against them: unknown paths answer
404 and are recorded, so a new call shows up in ``requests``):

* Mastodon: ``GET /api/v1/instance`` and ``/api/v2/instance`` (Mastodon.py's version check),
  ``POST /api/v2/media`` (with ``description``, the alt text) and ``POST /api/v1/statuses``
  with ``Idempotency-Key`` (the same key from the same account returns the first status and
  creates nothing).
* Bluesky PDS: ``com.atproto.server.createSession`` / ``getSession`` / ``refreshSession``,
  ``app.bsky.actor.getProfile`` (atproto fetches the profile at login),
  ``com.atproto.identity.resolveHandle``, ``com.atproto.repo.createRecord`` (a record key that
  exists is refused the way the reference PDS refuses it: HTTP 500 ``InternalServerError``, see
  bluesky-social/atproto#3718; ``duplicate_status=409`` plays the ``RecordAlreadyExists`` that
  newer servers answer), ``getRecord`` and ``uploadBlob``.
* Webhook: verifies ``X-Depesche-Signature`` with :func:`workers.channels.webhook.verify_signature`
  and keeps one delivery per ``Idempotency-Key``.

``script(status, ...)`` makes the next matching request fail (429 with ``Retry-After``, 503, 422)
before the server behaves normally again.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import io
import itertools
import json
import re
import ssl
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import regex
import trustme
import yaml
from PIL import Image

from campaigns.schema import Initiative
from content.social.facets import rich_text
from workers.channels.base import Attachment, Outgoing
from workers.channels.webhook import SignatureError, verify_signature

FakeServerT = TypeVar("FakeServerT", bound="FakeServer")

TID_PATTERN = re.compile(r"^[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}$")


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Answer:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering: a slow server


@dataclass
class _Scripted:
    answer: Answer
    path: str | None
    times: int
    after: int  # matching requests still served normally before this answer applies


class _Handler(BaseHTTPRequestHandler):
    server: _HttpServer
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as separate writes

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass

    def _serve(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request = Recorded(
            method=self.command,
            path=parts.path.rstrip("/") or "/",
            query=parse_qs(parts.query),
            headers={key.lower(): value for key, value in self.headers.items()},
            body=body,
        )
        answer = self.server.fake.dispatch(request)
        if answer.delay:
            time.sleep(answer.delay)
        payload = b"" if answer.body is None else json.dumps(answer.body).encode()
        self.send_response(answer.status)
        headers = {"Content-Type": "application/json; charset=utf-8", **answer.headers}
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = _serve


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, fake: FakeServer, context: ssl.SSLContext | None) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fake = fake
        self.context = context

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (a timeout test) is no server error worth printing.
        if not isinstance(sys.exc_info()[1], BrokenPipeError | ConnectionResetError):
            super().handle_error(request, client_address)

    def finish_request(self, request: Any, client_address: Any) -> None:
        # The TLS handshake happens in the request's own thread, not in the accept loop.
        if self.context is not None:
            try:
                request = self.context.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError):
                return
        super().finish_request(request, client_address)


class FakeServer:
    """A threaded HTTP(S) server on a free loopback port; subclasses answer in ``answer``."""

    def __init__(self, *, ca: trustme.CA | None = None) -> None:
        self.requests: list[Recorded] = []
        self.lock = threading.Lock()
        self._scripted: list[_Scripted] = []
        context = None
        if ca is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
        self._server = _HttpServer(self, context)
        self._scheme = "https" if context is not None else "http"
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"{self._scheme}://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FakeServer:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def script(
        self,
        status: int,
        *,
        body: Any = None,
        headers: dict[str, str] | None = None,
        path: str | None = None,
        times: int = 1,
        delay: float = 0.0,
        after: int = 0,
    ) -> None:
        """The next ``times`` requests (to ``path``, if given) get this answer instead, once
        ``after`` of them have been served normally."""
        answer = Answer(status, body, headers or {}, delay)
        with self.lock:
            self._scripted.append(_Scripted(answer, path, times, after))

    def calls(self, path: str, method: str = "POST") -> list[Recorded]:
        return [r for r in self.requests if r.path == path and r.method == method]

    def dispatch(self, request: Recorded) -> Answer:
        with self.lock:
            self.requests.append(request)
            for scripted in self._scripted:
                if scripted.path in (None, request.path) and scripted.times > 0:
                    if scripted.after > 0:
                        scripted.after -= 1
                        continue
                    scripted.times -= 1
                    return scripted.answer
            return self.answer(request)

    def answer(self, request: Recorded) -> Answer:
        raise NotImplementedError


def _multipart(request: Recorded) -> dict[str, tuple[str | None, str, bytes]]:
    """Form fields of a multipart/form-data body: name -> (filename, media type, bytes)."""
    head = f"Content-Type: {request.headers['content-type']}\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(head + request.body)
    fields = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        assert isinstance(name, str) and isinstance(payload, bytes)
        fields[name] = (part.get_filename(), part.get_content_type(), payload)
    return fields


def _form(request: Recorded) -> dict[str, list[str]]:
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/json"):
        document = request.json()
        return {
            key: [str(v) for v in value] if isinstance(value, list) else [str(value)]
            for key, value in document.items()
            if value is not None
        }
    if content_type.startswith("multipart/form-data"):
        return {name: [data.decode()] for name, (_, _, data) in _multipart(request).items()}
    return parse_qs(request.body.decode(), keep_blank_values=True)


@dataclass
class Toot:
    """A status as the fake instance keeps it, with the raw text the test checks."""

    id: str
    text: str
    in_reply_to_id: str | None
    media_ids: list[str]
    idempotency_key: str | None
    language: str | None


@dataclass
class Media:
    id: str
    filename: str | None
    media_type: str | None
    data: bytes
    description: str | None


class FakeMastodon(FakeServer):
    """A Mastodon instance with one account, whose access token is ``token``."""

    VERSION = "4.3.0"
    MAX_CHARACTERS = 500

    def __init__(self, *, token: str, ca: trustme.CA | None = None) -> None:
        super().__init__(ca=ca)
        self.token = token
        self.statuses: dict[str, Toot] = {}
        self.media: dict[str, Media] = {}
        self._by_key: dict[str, str] = {}
        self._ids = itertools.count(113_000_000_000_000_001)

    def _instance(self, version: int) -> dict[str, Any]:
        host = urlsplit(self.url).netloc
        configuration = {
            "statuses": {
                "max_characters": self.MAX_CHARACTERS,
                "max_media_attachments": 4,
                "characters_reserved_per_url": 23,
            },
            "media_attachments": {
                "image_size_limit": 16 * 1024 * 1024,
                "image_matrix_limit": 33_177_600,
            },
        }
        document: dict[str, Any] = {
            "title": "Testinstanz",
            "version": self.VERSION,
            "api_versions": {"mastodon": 2},
            "configuration": configuration,
        }
        if version == 1:
            document |= {"uri": host, "urls": {"streaming_api": f"wss://{host}"}}
        else:
            document |= {"domain": host, "source_url": "https://github.com/mastodon/mastodon"}
        return document

    def answer(self, request: Recorded) -> Answer:
        route = (request.method, request.path)
        if route == ("GET", "/api/v1/instance"):
            return Answer(200, self._instance(1))
        if route == ("GET", "/api/v2/instance"):
            return Answer(200, self._instance(2))
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return Answer(401, {"error": "The access token is invalid"})
        if route == ("POST", "/api/v2/media"):
            return self._media(request)
        if route == ("POST", "/api/v1/statuses"):
            return self._status(request)
        return Answer(404, {"error": "Record not found"})

    def _media(self, request: Recorded) -> Answer:
        fields = _multipart(request)
        if "file" not in fields:
            return Answer(422, {"error": "Validation failed: File can't be blank"})
        filename, media_type, data = fields["file"]
        description = fields["description"][2].decode() if "description" in fields else None
        media = Media(str(next(self._ids)), filename, media_type, data, description)
        self.media[media.id] = media
        return Answer(200, self._media_json(media))

    def _media_json(self, media: Media) -> dict[str, Any]:
        return {
            "id": media.id,
            "type": "image",
            "url": f"{self.url}/system/media/{media.id}.png",
            "preview_url": f"{self.url}/system/media/{media.id}-small.png",
            "remote_url": None,
            "description": media.description,
            "blurhash": None,
            "meta": {},
        }

    def _status(self, request: Recorded) -> Answer:
        key = request.headers.get("idempotency-key")
        if key is not None and key in self._by_key:
            return Answer(200, self._status_json(self.statuses[self._by_key[key]]))
        form = _form(request)
        text = form.get("status", [""])[0]
        media_ids = form.get("media_ids[]", form.get("media_ids", []))
        if not text.strip() and not media_ids:
            return Answer(422, {"error": "Validation failed: Text can't be blank"})
        if len(text) > self.MAX_CHARACTERS:
            limit = self.MAX_CHARACTERS
            return Answer(422, {"error": f"Validation failed: Text character limit of {limit}"})
        unknown = [media_id for media_id in media_ids if media_id not in self.media]
        if unknown or len(media_ids) > 4:
            return Answer(422, {"error": "Validation failed: Media attachments are invalid"})
        reply_to = form.get("in_reply_to_id", [None])[0] or None
        if reply_to is not None and reply_to not in self.statuses:
            return Answer(404, {"error": "Record not found"})
        language = form.get("language", [None])[0]
        toot = Toot(str(next(self._ids)), text, reply_to, list(media_ids), key, language)
        self.statuses[toot.id] = toot
        if key is not None:
            self._by_key[key] = toot.id
        return Answer(200, self._status_json(toot))

    def _status_json(self, toot: Toot) -> dict[str, Any]:
        paragraphs = "".join(f"<p>{html.escape(p)}</p>" for p in toot.text.split("\n\n"))
        return {
            "id": toot.id,
            "uri": f"{self.url}/users/zdi/statuses/{toot.id}",
            "url": f"{self.url}/@zdi/{toot.id}",
            "created_at": "2026-11-25T10:00:00.000Z",
            "content": paragraphs,
            "visibility": "public",
            "sensitive": False,
            "spoiler_text": "",
            "language": toot.language,
            "in_reply_to_id": toot.in_reply_to_id,
            "in_reply_to_account_id": "1" if toot.in_reply_to_id else None,
            "media_attachments": [self._media_json(self.media[m]) for m in toot.media_ids],
            "mentions": [],
            "tags": [],
            "emojis": [],
            "reblogs_count": 0,
            "favourites_count": 0,
            "replies_count": 0,
            "account": {"id": "1", "username": "zdi", "acct": "zdi", "display_name": "ZdI"},
        }


# --- Bluesky --------------------------------------------------------------------------------


def cid_for(data: bytes, *, codec: int) -> str:
    """A CIDv1 (sha2-256) in base32, as a PDS names records (dag-cbor) and blobs (raw)."""
    digest = hashlib.sha256(data).digest()
    raw = bytes([0x01, codec, 0x12, 0x20]) + digest
    return "b" + base64.b32encode(raw).decode().lower().rstrip("=")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


@dataclass
class Post:
    uri: str
    cid: str
    rkey: str
    value: dict[str, Any]


class FakePds(FakeServer):
    """A personal data server holding one account (``handle``, app password ``password``)."""

    def __init__(
        self,
        *,
        handle: str,
        password: str,
        ca: trustme.CA | None = None,
        duplicate_status: int = 500,
        access_lifetime: timedelta = timedelta(hours=2),
        entryway: bool = False,
    ) -> None:
        super().__init__(ca=ca)
        self.access_lifetime = access_lifetime
        # As bsky.social does: the login host is an entryway, and the session's DID document
        # names the account's own PDS (here the same server under the name "localhost").
        self.entryway = entryway
        self.handle = handle
        self.password = password
        self.did = "did:plc:" + hashlib.sha256(handle.encode()).hexdigest()[:24]
        self.duplicate_status = duplicate_status
        self.records: dict[tuple[str, str], Post] = {}
        self.blobs: dict[str, tuple[str, bytes]] = {}
        self._secret = b"fake-pds-signing-key"
        self._sessions = 0

    @property
    def pds_url(self) -> str:
        return self.url.replace("127.0.0.1", "localhost") if self.entryway else self.url

    def _jwt(self, scope: str, lifetime: timedelta) -> str:
        now = int(time.time())
        header = {"typ": "at+jwt" if scope != "com.atproto.refresh" else "refresh+jwt"}
        header["alg"] = "HS256"
        self._sessions += 1
        claims = {
            "scope": scope,
            "sub": self.did,
            "aud": f"did:web:{urlsplit(self.url).hostname}",
            "iat": now,
            "exp": now + int(lifetime.total_seconds()),
            "jti": f"session-{self._sessions}",
        }
        signing_input = (
            f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        )
        signature = hmac.new(self._secret, signing_input.encode(), hashlib.sha256).digest()
        return f"{signing_input}.{_b64url(signature)}"

    def _did_doc(self) -> dict[str, Any]:
        return {
            "@context": ["https://www.w3.org/ns/did/v1"],
            "id": self.did,
            "alsoKnownAs": [f"at://{self.handle}"],
            "verificationMethod": [
                {
                    "id": f"{self.did}#atproto",
                    "type": "Multikey",
                    "controller": self.did,
                    "publicKeyMultibase": "zQ3shXjHeiBuRCKmM36cuYnm7YEMzhGnCmCyW92sRJ9pribSF",
                }
            ],
            "service": [
                {
                    "id": "#atproto_pds",
                    "type": "AtprotoPersonalDataServer",
                    "serviceEndpoint": self.pds_url,
                }
            ],
        }

    def _session(self) -> dict[str, Any]:
        return {
            "accessJwt": self._jwt("com.atproto.appPass", self.access_lifetime),
            "refreshJwt": self._jwt("com.atproto.refresh", timedelta(days=90)),
            "handle": self.handle,
            "did": self.did,
            "didDoc": self._did_doc(),
            "active": True,
        }

    def _authorised(self, request: Recorded, scope: str) -> bool:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        try:
            signing_input, signature = token.rsplit(".", 1)
            expected = hmac.new(self._secret, signing_input.encode(), hashlib.sha256).digest()
            if not hmac.compare_digest(_b64url(expected), signature):
                return False
            payload = signing_input.split(".")[1]
            claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        except (ValueError, IndexError):
            return False
        return bool(claims["scope"] == scope and claims["exp"] > time.time())

    def answer(self, request: Recorded) -> Answer:
        nsid = request.path.removeprefix("/xrpc/")
        if nsid == "com.atproto.server.createSession":
            body = request.json()
            if body.get("identifier") in (self.handle, self.did) and hmac.compare_digest(
                str(body.get("password", "")), self.password
            ):
                return Answer(200, self._session())
            message = "Invalid identifier or password"
            return Answer(401, {"error": "AuthenticationRequired", "message": message})
        if nsid == "com.atproto.identity.resolveHandle":
            if request.query.get("handle") == [self.handle]:
                return Answer(200, {"did": self.did})
            return Answer(400, {"error": "InvalidRequest", "message": "Unable to resolve handle"})
        if nsid == "com.atproto.server.refreshSession":
            if not self._authorised(request, "com.atproto.refresh"):
                return Answer(400, {"error": "ExpiredToken", "message": "Token has expired"})
            return Answer(200, self._session())
        if not self._authorised(request, "com.atproto.appPass"):
            return Answer(401, {"error": "AuthMissing", "message": "Authentication Required"})
        if nsid == "com.atproto.server.getSession":
            return Answer(200, {"handle": self.handle, "did": self.did, "active": True})
        if nsid == "app.bsky.actor.getProfile":
            return Answer(200, {"did": self.did, "handle": self.handle, "displayName": "ZdI"})
        if nsid == "com.atproto.repo.uploadBlob":
            media_type = request.headers.get("content-type", "application/octet-stream")
            cid = cid_for(request.body, codec=0x55)
            self.blobs[cid] = (media_type, request.body)
            blob = {"$type": "blob", "ref": {"$link": cid}, "mimeType": media_type}
            return Answer(200, {"blob": blob | {"size": len(request.body)}})
        if nsid == "com.atproto.repo.createRecord":
            return self._create_record(request.json())
        if nsid == "com.atproto.repo.getRecord":
            return self._get_record(request.query)
        return Answer(404, {"error": "MethodNotImplemented", "message": "Method Not Implemented"})

    def _invalid(self, message: str) -> Answer:
        return Answer(400, {"error": "InvalidRequest", "message": message})

    def _create_record(self, body: dict[str, Any]) -> Answer:
        if body.get("repo") not in (self.did, self.handle):
            return self._invalid(f"Could not find repo: {body.get('repo')}")
        collection, record = body.get("collection"), body.get("record")
        if collection != "app.bsky.feed.post" or not isinstance(record, dict):
            return self._invalid("Invalid app.bsky.feed.post record")
        rkey = body.get("rkey")
        if not isinstance(rkey, str) or not TID_PATTERN.match(rkey):
            return self._invalid("Invalid record key: rkey must be a TID")
        problem = _post_problem(record)
        if problem is not None:
            return self._invalid(f"Invalid app.bsky.feed.post record: {problem}")
        if (collection, rkey) in self.records:
            if self.duplicate_status == 409:
                message = f"Record already exists at at://{self.did}/{collection}/{rkey}"
                return Answer(409, {"error": "RecordAlreadyExists", "message": message})
            message = "Internal Server Error"
            return Answer(500, {"error": "InternalServerError", "message": message})
        uri = f"at://{self.did}/{collection}/{rkey}"
        cid = cid_for(json.dumps(record, sort_keys=True).encode(), codec=0x71)
        self.records[(collection, rkey)] = Post(uri, cid, rkey, record)
        return Answer(200, {"uri": uri, "cid": cid, "validationStatus": "valid"})

    def _get_record(self, query: dict[str, list[str]]) -> Answer:
        key = (query.get("collection", [""])[0], query.get("rkey", [""])[0])
        post = self.records.get(key)
        if query.get("repo", [""])[0] not in (self.did, self.handle) or post is None:
            uri = f"at://{query.get('repo', [''])[0]}/{key[0]}/{key[1]}"
            return Answer(
                400, {"error": "RecordNotFound", "message": f"Could not locate record: {uri}"}
            )
        return Answer(200, {"uri": post.uri, "cid": post.cid, "value": post.value})

    def posts(self) -> list[Post]:
        return list(self.records.values())


def _post_problem(record: dict[str, Any]) -> str | None:
    """What app.bsky.feed.post's lexicon refuses in a record, or None."""
    text = record.get("text")
    if not isinstance(text, str):
        return "text must be a string"
    if len(regex.findall(r"\X", text)) > 300 or len(text.encode()) > 3000:
        return "text is too long"
    try:
        datetime.fromisoformat(str(record.get("createdAt")).replace("Z", "+00:00"))
    except ValueError:
        return "createdAt must be a datetime"
    size = len(text.encode())
    for facet in record.get("facets") or []:
        index = facet.get("index", {})
        start, end = index.get("byteStart"), index.get("byteEnd")
        if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= size):
            return "facet byte range outside the text"
    embed = record.get("embed")
    if embed is not None:
        images = embed.get("images")
        if embed.get("$type") != "app.bsky.embed.images" or not isinstance(images, list):
            return "embed must be app.bsky.embed.images"
        if len(images) > 4 or any(not isinstance(i.get("alt"), str) for i in images):
            return "at most 4 images, each with alt"
    return None


# --- Webhook --------------------------------------------------------------------------------


class FakeWebhookReceiver(FakeServer):
    """A receiver that checks the signature and keeps one delivery per Idempotency-Key."""

    def __init__(self, *, secret: str, tolerance: timedelta = timedelta(minutes=5)) -> None:
        super().__init__()
        self.secret = secret
        self.tolerance = tolerance
        self.deliveries: dict[str, dict[str, Any]] = {}
        self.refused: list[str] = []

    def answer(self, request: Recorded) -> Answer:
        if request.method != "POST":
            return Answer(405, {"error": "method not allowed"})
        try:
            verify_signature(
                self.secret,
                request.headers.get("x-depesche-timestamp", ""),
                request.body,
                request.headers.get("x-depesche-signature", ""),
                now=datetime.now(UTC),
                tolerance=self.tolerance,
            )
        except SignatureError as exc:
            self.refused.append(str(exc))
            return Answer(401, {"error": str(exc)})
        key = request.headers.get("idempotency-key")
        if not key:
            return Answer(400, {"error": "Idempotency-Key missing"})
        if key not in self.deliveries:
            self.deliveries[key] = request.json()
        return Answer(200, {"id": f"rcv-{hashlib.sha256(key.encode()).hexdigest()[:12]}"})


# --- Pieces as the composer writes them ---------------------------------------------------------


def png(width: int = 40, height: int = 30, colour: str = "#2a6f97") -> bytes:
    """A small real PNG, standing in for a resized campaign image."""
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, format="PNG")
    return buffer.getvalue()


def social_outgoing(
    platform: str,
    posts: list[str],
    *,
    images: tuple[tuple[str, str], ...] = (),
    initiative: str = "krefeld",
    slot: str = "woche-der-industrie/social-20261109T0800Z",
    options: dict[str, str] | None = None,
) -> Outgoing:
    """A social piece's files the way ``content/composers/social.py`` names and fills them:
    the post texts, for Bluesky the records with facets beside them, and the images with
    ``social-<platform>-media.json`` carrying their alt texts. ``images`` is (id, alt) pairs.
    Keys are built as assembly and routing build them (``<slot>/<initiative>/social/<platform>``
    and ``<piece>|<channel>|account:<initiative>``)."""
    piece_key = f"{slot}/{initiative}/social/{platform}"
    files: list[Attachment] = []
    names = (
        [f"social-{platform}.txt"]
        if len(posts) == 1
        else [f"social-{platform}-{n}.txt" for n in range(1, len(posts) + 1)]
    )
    for name, post in zip(names, posts, strict=True):
        files.append(Attachment(name, "text/plain", post.encode()))
        if platform == "bluesky":
            record = {**rich_text(post).record(), "langs": ["de"]}
            data = (json.dumps(record, ensure_ascii=False, indent=2) + "\n").encode()
            files.append(Attachment(name.removesuffix(".txt") + ".json", "application/json", data))
    media = []
    for image_id, alt in images:
        name = f"social-{platform}-{image_id}.png"
        files.append(Attachment(name, "image/png", png()))
        media.append(
            {
                "file": name,
                "alt": alt,
                "caption": "Werkhalle",
                "credit": "Foto: ZdI",
                "width": 40,
                "height": 30,
                "bytes": 0,
            }
        )
    if media:
        listing = json.dumps(media, ensure_ascii=False).encode()
        files.append(Attachment(f"social-{platform}-media.json", "application/json", listing))
    return Outgoing(
        delivery_key=f"{piece_key}|{platform}|account:{initiative}",
        piece_key=piece_key,
        kind="social",
        initiative=initiative,
        target=platform,
        files=tuple(files),
        options=dict(options or {}),
    )


EXAMPLE_INITIATIVES = (
    Path(__file__).parent.parent / "examples/zukunft-der-industrie/initiatives.yaml"
)


def example_initiative(slug: str, channels: dict[str, Any]) -> Initiative:
    """An initiative of the example workspace with ``channels`` as initiatives.yaml would say."""
    document = yaml.safe_load(EXAMPLE_INITIATIVES.read_text(encoding="utf-8"))
    entry = next(i for i in document["initiatives"] if i["slug"] == slug)
    return Initiative.model_validate({**entry, "channels": channels})


@contextmanager
def running(server: FakeServerT) -> Iterator[FakeServerT]:
    server.start()
    try:
        yield server
    finally:
        server.stop()
