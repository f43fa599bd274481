"""Where a channel's secret for one initiative comes from: one environment variable per slug.

Workspace files are kept in git, so tokens and passwords never live there: each channel reads
``DEPESCHE_<CHANNEL>_<KIND>_<SLUG>`` (the slug upper-cased, dashes as underscores), e.g.
``DEPESCHE_MASTODON_TOKEN_BADEN_WUERTTEMBERG``. A missing variable is named in the error, the
value never is.
"""

from __future__ import annotations

import os
from collections.abc import Mapping


class ChannelNotReady(Exception):
    """A channel cannot be built for an initiative: its address or its secret is missing."""


def variable_name(prefix: str, slug: str) -> str:
    """``variable_name("DEPESCHE_MASTODON_TOKEN", "nord-westfalen")`` ->
    ``DEPESCHE_MASTODON_TOKEN_NORD_WESTFALEN``."""
    return f"{prefix}_{slug.upper().replace('-', '_')}"


def secret_for(prefix: str, slug: str, what: str, environ: Mapping[str, str] | None = None) -> str:
    """The secret for ``slug`` from the environment, or :class:`ChannelNotReady` naming it."""
    name = variable_name(prefix, slug)
    value = (os.environ if environ is None else environ).get(name, "").strip()
    if not value:
        raise ChannelNotReady(
            f"initiative {slug}: {what} missing; set the environment variable {name}"
        )
    return value
