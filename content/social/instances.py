"""What a configured social server tells us: a Mastodon instance's limits, Bluesky handles' DIDs.

Mastodon's 500 characters are only the default: each instance sets its own limit, URL weight
and image limits and publishes them at ``/api/v2/instance``. Bluesky mention facets need the
DID behind a handle. Both answers are fetched with a timeout and kept for the run (the slot),
so a run over many initiatives asks each server once, and the next run sees changes. Answers
come from servers we do not control and are checked before use.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, Final, TypeVar

import regex
import requests

log = logging.getLogger(__name__)

TIMEOUT: Final = 10.0
USER_AGENT: Final = "Depesche/0.1 (campaign engine; +https://depesche.example.org)"
_DID = regex.compile(r"^did:(plc|web):[a-zA-Z0-9._:%-]{1,2000}$")
# Beyond these an answer is taken for a broken or hostile server, not a configuration.
_MAX_CHARACTERS: Final = 100_000
_MAX_URL_LENGTH: Final = 1_000


class InstanceError(Exception):
    """A server could not be asked or gave an unusable answer."""


@dataclass(frozen=True)
class MastodonLimits:
    """An instance's posting limits; the defaults are stock Mastodon's."""

    max_characters: int = 500
    characters_reserved_per_url: int = 23
    image_size_limit: int = 16 * 1024 * 1024
    image_matrix_limit: int = 33_177_600
    source: str = "default"


DEFAULT_MASTODON = MastodonLimits()

T = TypeVar("T")


class RunCache:
    """Answers per (run, question), the oldest runs forgotten first; safe across threads."""

    def __init__(self, runs: int = 32) -> None:
        self._runs = runs
        self._entries: OrderedDict[Hashable, dict[Hashable, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, run: Hashable, question: Hashable, ask: Callable[[], T]) -> T:
        with self._lock:
            answers = self._entries.setdefault(run, {})
            self._entries.move_to_end(run)
            while len(self._entries) > self._runs:
                self._entries.popitem(last=False)
            if question in answers:
                return answers[question]  # type: ignore[no-any-return]
        answer = ask()
        with self._lock:
            self._entries.setdefault(run, {})[question] = answer
        return answer

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


CACHE = RunCache()


def _get_json(url: str, params: dict[str, str] | None, timeout: float) -> Any:
    try:
        response = requests.get(
            url,
            params=params,
            timeout=timeout,
            headers={"Accept": "application/json", "User-Agent": USER_AGENT},
            allow_redirects=False,
        )
    except requests.RequestException as exc:
        raise InstanceError(f"{url}: {type(exc).__name__}: {exc}") from exc
    if response.status_code != 200:
        raise InstanceError(f"{url}: HTTP {response.status_code}")
    try:
        return response.json()
    except ValueError as exc:
        raise InstanceError(f"{url}: not JSON") from exc


def _positive_int(document: Any, path: tuple[str, ...], ceiling: int | None = None) -> int | None:
    value = document
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise InstanceError(f"{'.'.join(path)} is not a positive integer: {value!r}")
    if ceiling is not None and value > ceiling:
        raise InstanceError(f"{'.'.join(path)} is implausibly large: {value}")
    return value


def fetch_mastodon_limits(instance: str, *, timeout: float = TIMEOUT) -> MastodonLimits:
    """Read ``configuration.statuses`` and ``media_attachments`` of the instance document."""
    url = f"{instance.rstrip('/')}/api/v2/instance"
    document = _get_json(url, None, timeout)
    statuses = ("configuration", "statuses")
    media = ("configuration", "media_attachments")
    max_characters = _positive_int(document, (*statuses, "max_characters"), _MAX_CHARACTERS)
    if max_characters is None:
        raise InstanceError(f"{url}: no configuration.statuses.max_characters")
    url_length = _positive_int(
        document, (*statuses, "characters_reserved_per_url"), _MAX_URL_LENGTH
    )
    size = _positive_int(document, (*media, "image_size_limit"))
    matrix = _positive_int(document, (*media, "image_matrix_limit"))
    return MastodonLimits(
        max_characters=max_characters,
        characters_reserved_per_url=url_length or DEFAULT_MASTODON.characters_reserved_per_url,
        image_size_limit=size or DEFAULT_MASTODON.image_size_limit,
        image_matrix_limit=matrix or DEFAULT_MASTODON.image_matrix_limit,
        source=url,
    )


def mastodon_limits(
    instance: str | None, run: Hashable, *, timeout: float = TIMEOUT
) -> MastodonLimits:
    """The instance's limits, once per run; stock limits when none is configured or it fails.

    A failure falls back to the defaults (and says so in ``source``) rather than failing the
    piece: stock Mastodon allows 500, and instances lower it very rarely.
    """
    if instance is None:
        return DEFAULT_MASTODON

    def ask() -> MastodonLimits:
        try:
            return fetch_mastodon_limits(instance, timeout=timeout)
        except InstanceError as exc:
            log.warning("Mastodon instance limits unavailable, using defaults: %s", exc)
            return MastodonLimits(source=f"default ({exc})")

    return CACHE.get(run, ("mastodon", instance), ask)


def resolve_handle(service: str, handle: str, *, timeout: float = TIMEOUT) -> str | None:
    """The DID of a Bluesky handle via ``com.atproto.identity.resolveHandle``, or None."""
    url = f"{service.rstrip('/')}/xrpc/com.atproto.identity.resolveHandle"
    try:
        document = _get_json(url, {"handle": handle}, timeout)
    except InstanceError as exc:
        log.warning("cannot resolve Bluesky handle %s: %s", handle, exc)
        return None
    did = document.get("did") if isinstance(document, dict) else None
    return did if isinstance(did, str) and _DID.match(did) else None


def handle_resolver(
    service: str | None, run: Hashable, *, timeout: float = TIMEOUT
) -> Callable[[str], str | None] | None:
    """A resolver asking ``service`` once per handle and run; None when none is configured."""
    if service is None:
        return None

    def resolve(handle: str) -> str | None:
        return CACHE.get(
            run,
            ("bluesky", service, handle),
            lambda: resolve_handle(service, handle, timeout=timeout),
        )

    return resolve
