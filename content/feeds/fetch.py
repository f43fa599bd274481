"""Get a feed's bytes: from the workspace's disk, or over HTTP with a conditional GET.

The fetcher only moves bytes; it never interprets them (that is :mod:`content.feeds.parse`).
Every limit a hostile or broken server could abuse is explicit: a connect and read timeout, a cap
on the decoded body size, a bounded number of redirects, and a short list of schemes, so a feed
URL in ``feeds.yaml`` can never make Depesche read ``/etc`` or talk FTP.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit
from urllib.request import url2pathname

import requests

MAX_REDIRECTS = 5
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_CHUNK_SIZE = 64 * 1024
_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, application/json;q=0.9, "
    "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.1"
)


class FetchError(Exception):
    """A feed could not be fetched; the message names the URL so a person can act on it."""

    def __init__(self, message: str, *, url: str) -> None:
        super().__init__(message)
        self.url = url


@dataclass(frozen=True)
class FetchResult:
    """What one fetch brought back; header names are lower-case.

    ``not_modified`` means the stored copy is current (HTTP 304, or a file whose content hash
    matches the stored ETag) and ``content`` is empty. ``url`` is where the bytes really came
    from: the final URL after redirects, or the ``file://`` URL of a local feed.
    """

    not_modified: bool
    content: bytes
    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None
    last_modified: str | None = None
    url: str = ""


@lru_cache(maxsize=1)
def user_agent() -> str:
    """Identify ourselves so feed operators can see who polls them and whom to ask."""
    try:
        release = version("depesche")
    except PackageNotFoundError:
        release = "0"
    return f"Depesche/{release} (+https://depesche.example.org)"


def fetch(
    url: str,
    *,
    base_dir: Path,
    etag: str | None,
    last_modified: str | None,
    timeout: float,
    max_bytes: int,
    session: requests.Session | None = None,
) -> FetchResult:
    """Fetch ``url``: a relative path (against ``base_dir``), ``file://``, ``http`` or ``https``.

    ``etag`` and ``last_modified`` are the validators stored from the last successful fetch.
    Raises :class:`FetchError` for anything that leaves us without a usable answer.
    """
    scheme = urlsplit(url).scheme.lower()
    if scheme in ("http", "https"):
        return _fetch_http(
            url,
            etag=etag,
            last_modified=last_modified,
            timeout=timeout,
            max_bytes=max_bytes,
            session=session,
        )
    if scheme == "file":
        return _fetch_file(_file_url_path(url), url=url, etag=etag, max_bytes=max_bytes)
    if scheme == "":
        path = (base_dir / url).resolve()
        return _fetch_file(path, url=url, etag=etag, max_bytes=max_bytes)
    raise FetchError(
        f"{url}: scheme {scheme!r} is not supported (use http, https, file or a path)", url=url
    )


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


# --- HTTP ---------------------------------------------------------------------------------------


def _fetch_http(
    url: str,
    *,
    etag: str | None,
    last_modified: str | None,
    timeout: float,
    max_bytes: int,
    session: requests.Session | None,
) -> FetchResult:
    headers = {"User-Agent": user_agent(), "Accept": _ACCEPT}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    own_session = session is None
    http = requests.Session() if session is None else session
    try:
        return _follow(
            http,
            url,
            headers=headers,
            timeout=timeout,
            max_bytes=max_bytes,
            etag=etag,
            last_modified=last_modified,
        )
    finally:
        if own_session:
            http.close()


def _follow(
    http: requests.Session,
    url: str,
    *,
    headers: dict[str, str],
    timeout: float,
    max_bytes: int,
    etag: str | None,
    last_modified: str | None,
) -> FetchResult:
    """Follow redirects ourselves, so their number and their schemes are ours to bound."""
    current = url
    for _ in range(MAX_REDIRECTS + 1):
        try:
            response = http.get(
                current,
                headers=headers,
                timeout=(timeout, timeout),
                stream=True,
                allow_redirects=False,
            )
        except requests.Timeout as exc:
            raise FetchError(f"{url}: timed out after {timeout:g}s", url=url) from exc
        except requests.RequestException as exc:
            raise FetchError(f"{url}: {exc}", url=url) from exc
        with response:
            if response.status_code in _REDIRECT_STATUSES:
                location = response.headers.get("Location")
                if not location:
                    raise FetchError(
                        f"{url}: HTTP {response.status_code} redirect without a Location",
                        url=url,
                    )
                current = urljoin(current, location)
                if urlsplit(current).scheme.lower() not in ("http", "https"):
                    raise FetchError(f"{url}: redirected to unsupported URL {current}", url=url)
                continue
            return _read(
                response,
                url=url,
                final_url=current,
                max_bytes=max_bytes,
                etag=etag,
                last_modified=last_modified,
                timeout=timeout,
            )
    raise FetchError(f"{url}: more than {MAX_REDIRECTS} redirects", url=url)


def _read(
    response: requests.Response,
    *,
    url: str,
    final_url: str,
    max_bytes: int,
    etag: str | None,
    last_modified: str | None,
    timeout: float,
) -> FetchResult:
    headers = {name.lower(): value for name, value in response.headers.items()}
    if response.status_code == 304:
        return FetchResult(
            not_modified=True,
            content=b"",
            headers=headers,
            etag=headers.get("etag", etag),
            last_modified=headers.get("last-modified", last_modified),
            url=final_url,
        )
    if not 200 <= response.status_code < 300:
        reason = f" {response.reason}" if response.reason else ""
        raise FetchError(f"{url}: HTTP {response.status_code}{reason}", url=url)
    declared = headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise FetchError(
            f"{url}: response of {declared} bytes exceeds the limit of {max_bytes} bytes", url=url
        )
    body = bytearray()
    try:
        # iter_content decodes gzip/deflate, so the cap also stops a compression bomb.
        for chunk in response.iter_content(_CHUNK_SIZE):
            body += chunk
            if len(body) > max_bytes:
                raise FetchError(f"{url}: response exceeds the limit of {max_bytes} bytes", url=url)
    except requests.Timeout as exc:
        raise FetchError(f"{url}: timed out after {timeout:g}s", url=url) from exc
    except requests.RequestException as exc:
        raise FetchError(f"{url}: {exc}", url=url) from exc
    return FetchResult(
        not_modified=False,
        content=bytes(body),
        headers=headers,
        etag=headers.get("etag"),
        last_modified=headers.get("last-modified"),
        url=final_url,
    )
