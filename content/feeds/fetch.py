"""Get a feed's bytes: from the workspace's disk, or over HTTP with a conditional GET.

The fetcher only moves bytes; it never interprets them (that is :mod:`content.feeds.parse`).
Every limit a hostile or broken server could abuse is explicit: a connect and read timeout per
socket operation, a deadline for the whole fetch (a server trickling one byte a second never
trips a read timeout), a cap on the body counted while streaming and after decompression (so a
gzip bomb stops at the cap), at most five redirects, a short list of schemes, and the SSRF guard
of :mod:`content.feeds.addresses` on every connection, redirects included.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit
from urllib.request import url2pathname

import requests
from urllib3.exceptions import HTTPError as Urllib3Error

from content.feeds.addresses import (
    AddressGuard,
    AddressPolicy,
    AddressRefused,
    ResolutionFailed,
    Resolver,
    system_resolver,
)
from content.feeds.connection import Deadline, deadline_passed, guarded_session

log = logging.getLogger(__name__)

MAX_REDIRECTS = 5
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_PERMANENT_REDIRECTS = frozenset({301, 308})
# Small reads keep the decompressor's output per step small too (urllib3 bounds it per read).
_CHUNK_SIZE = 16 * 1024
_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, application/json;q=0.9, "
    "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.1"
)
# Brotli and zstd only if a module for them happens to be installed: ask for what is certain.
_ACCEPT_ENCODING = "gzip, deflate"
# A rest of a response this short is read to keep the connection; a longer one closes it.
_DRAIN_LIMIT = 64 * 1024


class FetchError(Exception):
    """A feed could not be fetched; the message names the URL so a person can act on it.

    ``retry_after`` is the server's ``Retry-After`` value as sent (seconds or an HTTP date), for
    the caller to turn into an instant with its own clock.
    """

    def __init__(
        self,
        message: str,
        *,
        url: str,
        status: int | None = None,
        retry_after: str | None = None,
    ) -> None:
        super().__init__(message)
        self.url = url
        self.status = status
        self.retry_after = retry_after


@dataclass(frozen=True)
class FetchResult:
    """What one fetch brought back; header names are lower-case.

    ``not_modified`` means the stored copy is current (HTTP 304, or a file whose content hash
    matches the stored ETag) and ``content`` is empty. ``url`` is where the bytes really came
    from: the final URL after redirects, or the ``file://`` URL of a local feed.
    ``permanent_url`` is where permanent redirects (301, 308) from the start moved the feed, for
    the caller to fetch from next time.
    """

    not_modified: bool
    content: bytes
    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None
    last_modified: str | None = None
    url: str = ""
    permanent_url: str | None = None
    status: int | None = None


@dataclass(frozen=True)
class FetchLimits:
    """Per socket operation (``timeout``), per fetch (``total_timeout``), per body (bytes)."""

    timeout: float = 10.0
    total_timeout: float = 60.0
    max_bytes: int = 5 * 1024 * 1024


@lru_cache(maxsize=1)
def user_agent() -> str:
    """Identify ourselves so feed operators can see who polls them and whom to ask."""
    try:
        release = version("depesche")
    except PackageNotFoundError:
        release = "0"
    return f"Depesche/{release} (+https://depesche.example.org)"


class Fetcher:
    """Fetches feeds within limits, over one guarded session that threads may share.

    ``allow_networks`` lists the CIDRs that may be reached even though they are not public
    (``[fetch] allow_networks``); ``resolver`` replaces DNS in tests.
    """

    def __init__(
        self,
        limits: FetchLimits,
        *,
        allow_networks: tuple[str, ...] | list[str] = (),
        resolver: Resolver = system_resolver,
        connections: int = 8,
    ) -> None:
        self.limits = limits
        self.guard = AddressGuard(AddressPolicy.allowing(allow_networks), resolver)
        self._session = guarded_session(self.guard, connections=connections)

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def fetch(
        self, url: str, *, base_dir: Path, etag: str | None, last_modified: str | None
    ) -> FetchResult:
        """Fetch ``url``: a relative path (against ``base_dir``), ``file://``, ``http(s)``.

        ``etag`` and ``last_modified`` are the validators stored from the last successful fetch.
        Raises :class:`FetchError` for anything that leaves us without a usable answer.
        """
        scheme = urlsplit(url).scheme.lower()
        if scheme in ("http", "https"):
            return self._fetch_http(url, etag=etag, last_modified=last_modified)
        if scheme == "file":
            return _fetch_file(
                _file_url_path(url), url=url, etag=etag, max_bytes=self.limits.max_bytes
            )
        if scheme == "":
            path = (base_dir / url).resolve()
            return _fetch_file(path, url=url, etag=etag, max_bytes=self.limits.max_bytes)
        raise FetchError(
            f"{url}: scheme {scheme!r} is not supported (use http, https, file or a path)", url=url
        )

    # --- HTTP -----------------------------------------------------------------------------------

    def _fetch_http(self, url: str, *, etag: str | None, last_modified: str | None) -> FetchResult:
        headers = {
            "User-Agent": user_agent(),
            "Accept": _ACCEPT,
            "Accept-Encoding": _ACCEPT_ENCODING,
        }
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        total = self.limits.total_timeout
        deadline = Deadline(total)
        late = FetchError(f"{url}: took longer than {total:g}s in total", url=url)
        try:
            with deadline:
                result = self._follow(url, headers=headers, etag=etag, last_modified=last_modified)
        except FetchError as exc:
            if deadline.expired:
                raise late from exc
            raise
        if deadline.expired:
            # Whatever came back was cut short: a half-read status line or body is no answer.
            raise late
        return result

    def _follow(
        self,
        url: str,
        *,
        headers: dict[str, str],
        etag: str | None,
        last_modified: str | None,
    ) -> FetchResult:
        """Follow redirects ourselves, so their number, schemes and addresses are ours to bound."""
        current = url
        permanent: str | None = None
        still_permanent = True
        for _ in range(MAX_REDIRECTS + 1):
            with self._get(url, current, headers) as response:
                if response.status_code not in _REDIRECT_STATUSES:
                    return self._read(
                        response,
                        url=url,
                        final_url=current,
                        permanent_url=permanent,
                        etag=etag,
                        last_modified=last_modified,
                    )
                location = response.headers.get("Location")
                if not location:
                    raise FetchError(
                        f"{url}: HTTP {response.status_code} redirect without a Location",
                        url=url,
                        status=response.status_code,
                    )
                current = urljoin(current, location.strip())
                if urlsplit(current).scheme.lower() not in ("http", "https"):
                    raise FetchError(f"{url}: redirected to unsupported URL {current}", url=url)
                still_permanent = still_permanent and response.status_code in _PERMANENT_REDIRECTS
                if still_permanent:
                    permanent = current
        raise FetchError(f"{url}: more than {MAX_REDIRECTS} redirects", url=url)

    @contextmanager
    def _get(self, url: str, current: str, headers: dict[str, str]) -> Iterator[requests.Response]:
        timeout = self.limits.timeout
        try:
            response = self._session.get(
                current,
                headers=headers,
                timeout=(timeout, timeout),
                stream=True,
                allow_redirects=False,
            )
        except AddressRefused as exc:
            hop = "" if current == url else f" (redirected to {current})"
            raise FetchError(f"{url}{hop}: refused: {exc}", url=url) from exc
        except ResolutionFailed as exc:
            raise FetchError(f"{url}: {exc}", url=url) from exc
        except requests.Timeout as exc:
            raise FetchError(f"{url}: timed out after {timeout:g}s", url=url) from exc
        except (requests.RequestException, Urllib3Error, OSError) as exc:
            raise FetchError(f"{url}: {_describe(exc)}", url=url) from exc
        try:
            yield response
        finally:
            _release(response)

    def _read(
        self,
        response: requests.Response,
        *,
        url: str,
        final_url: str,
        permanent_url: str | None,
        etag: str | None,
        last_modified: str | None,
    ) -> FetchResult:
        headers = {name.lower(): value for name, value in response.headers.items()}
        status = response.status_code
        if status == 304:
            return FetchResult(
                not_modified=True,
                content=b"",
                headers=headers,
                etag=headers.get("etag", etag),
                last_modified=headers.get("last-modified", last_modified),
                url=final_url,
                permanent_url=permanent_url,
                status=status,
            )
        if not 200 <= status < 300:
            reason = f" {response.reason}" if response.reason else ""
            raise FetchError(
                f"{url}: HTTP {status}{reason}",
                url=url,
                status=status,
                retry_after=headers.get("retry-after") if status in (429, 503) else None,
            )
        max_bytes = self.limits.max_bytes
        declared = headers.get("content-length", "").strip()
        if declared.isdigit() and int(declared) > max_bytes:
            raise FetchError(
                f"{url}: response of {declared} bytes exceeds the limit of {max_bytes} bytes",
                url=url,
            )
        content = self._body(response, url=url)
        return FetchResult(
            not_modified=False,
            content=content,
            headers=headers,
            etag=headers.get("etag"),
            last_modified=headers.get("last-modified"),
            url=final_url,
            permanent_url=permanent_url,
            status=status,
        )

    def _body(self, response: requests.Response, *, url: str) -> bytes:
        """Read the body in small steps, counting decoded bytes against the cap as they come.

        ``read1`` returns after one read from the socket, so the loop sees the deadline and the
        cap between reads however slowly the server sends.
        """
        max_bytes = self.limits.max_bytes
        raw: Any = response.raw
        body = bytearray()
        try:
            while True:
                chunk = raw.read1(_CHUNK_SIZE, decode_content=True)
                if not chunk:
                    break
                if deadline_passed():
                    raise FetchError(f"{url}: deadline passed while reading", url=url)
                body += chunk
                if len(body) > max_bytes:
                    packed = _compressed(response)
                    raise FetchError(
                        f"{url}: response exceeds the limit of {max_bytes} bytes"
                        + (" after decompression" if packed else ""),
                        url=url,
                    )
        except requests.Timeout as exc:
            raise FetchError(f"{url}: timed out after {self.limits.timeout:g}s", url=url) from exc
        except (requests.RequestException, Urllib3Error, OSError) as exc:
            raise FetchError(f"{url}: {_describe(exc)}", url=url) from exc
        return bytes(body)


def _release(response: requests.Response) -> None:
    """Give the connection back for the next request to this host, or close it.

    A short unread rest (a 304's, a redirect's) is read and dropped so the connection can be
    reused; anything longer, or a connection in doubt, is closed instead.
    """
    raw: Any = response.raw
    remaining = getattr(raw, "length_remaining", None)
    if remaining is not None and remaining <= _DRAIN_LIMIT and not deadline_passed():
        try:
            raw.drain_conn()
            raw.release_conn()
            return
        except Exception:  # the connection is in doubt: closing it below is the safe answer
            log.debug("could not reuse the connection for %s", response.url, exc_info=True)
    response.close()


def _compressed(response: requests.Response) -> bool:
    return response.headers.get("Content-Encoding", "").strip().lower() not in ("", "identity")


def _describe(exc: BaseException) -> str:
    """A one-line reason; urllib3 wraps the useful part a few levels deep."""
    text = str(exc)
    for cause in (exc.__cause__, exc.__context__):
        if isinstance(cause, AddressRefused | ResolutionFailed):
            return str(cause)
    if "timed out" in text.lower():
        return "timed out"
    return text


def fetch(
    url: str,
    *,
    base_dir: Path,
    etag: str | None,
    last_modified: str | None,
    timeout: float,
    max_bytes: int,
    total_timeout: float = 60.0,
    allow_networks: tuple[str, ...] | list[str] = (),
    resolver: Resolver = system_resolver,
) -> FetchResult:
    """Fetch one URL with a fetcher of its own: for one-off checks and tests."""
    limits = FetchLimits(timeout=timeout, total_timeout=total_timeout, max_bytes=max_bytes)
    with Fetcher(limits, allow_networks=allow_networks, resolver=resolver) as fetcher:
        return fetcher.fetch(url, base_dir=base_dir, etag=etag, last_modified=last_modified)


# --- local files --------------------------------------------------------------------------------


def _file_url_path(url: str) -> Path:
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        raise FetchError(f"{url}: file URLs on other hosts are not supported", url=url)
    return Path(url2pathname(unquote(parts.path)))


def _fetch_file(path: Path, *, url: str, etag: str | None, max_bytes: int) -> FetchResult:
    """Read a local feed; its content hash serves as ETag so unchanged files are skipped too.

    A hash, not the modification time: a test or an editor may rewrite a file within the same
    second, and a missed change would be worse than hashing a few kilobytes.
    """
    try:
        with path.open("rb") as handle:
            content = handle.read(max_bytes + 1)
    except OSError as exc:
        raise FetchError(f"{url}: cannot read {path}: {exc.strerror or exc}", url=url) from exc
    if len(content) > max_bytes:
        raise FetchError(f"{url}: file is larger than the limit of {max_bytes} bytes", url=url)
    digest = f'"sha256-{hashlib.sha256(content).hexdigest()[:32]}"'
    location = path.as_uri()
    if etag == digest:
        return FetchResult(not_modified=True, content=b"", etag=digest, url=location)
    return FetchResult(not_modified=False, content=content, etag=digest, url=location)
