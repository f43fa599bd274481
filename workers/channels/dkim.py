"""DKIM signatures for outgoing mail (dkimpy), configured from the environment only.

Receivers trust a newsletter more when its domain vouches for it, and RFC 8058 asks that the
``List-Unsubscribe`` headers are covered by the signature, so nobody on the way can point the
one-click unsubscribe elsewhere. The key is a secret: it comes from ``DEPESCHE_DKIM_KEY`` (a PEM
string or the path of a PEM file) and appears in no repr, log line or error message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import dkim
from dkim.crypto import UnparsableKeyError, parse_pem_private_key

from config.settings import Settings
from workers.channels.base import PermanentError

# What a receiver shows or acts on; the unsubscribe pair as RFC 8058 section 4 asks.
SIGNED_HEADERS = (
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "MIME-Version",
    "Content-Type",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
)
_INCLUDE = [name.lower().encode() for name in SIGNED_HEADERS]


class DkimConfigError(ValueError):
    """The DKIM settings are incomplete or the key cannot be read (names the variable)."""


@dataclass(frozen=True)
class DkimSigner:
    selector: str
    domain: str
    private_key: bytes = field(repr=False)

    def __post_init__(self) -> None:
        try:
            parse_pem_private_key(self.private_key)
        except (UnparsableKeyError, ValueError, IndexError):
            raise DkimConfigError(
                "DEPESCHE_DKIM_KEY is not a PEM RSA private key (PKCS#1 or PKCS#8)"
            ) from None

    def __repr__(self) -> str:
        return f"DkimSigner(selector={self.selector!r}, domain={self.domain!r})"

    @classmethod
    def from_settings(cls, settings: Settings) -> DkimSigner | None:
        """None when DKIM is not configured; an error naming what is missing when half is."""
        values = {
            "DEPESCHE_DKIM_KEY": settings.dkim_key,
            "DEPESCHE_DKIM_SELECTOR": settings.dkim_selector,
            "DEPESCHE_DKIM_DOMAIN": settings.dkim_domain,
        }
        missing = [name for name, value in values.items() if not value]
        if len(missing) == len(values):
            return None
        if missing:
            raise DkimConfigError(f"DKIM signing needs {', '.join(missing)} as well")
        assert settings.dkim_key and settings.dkim_selector and settings.dkim_domain
        return cls(settings.dkim_selector, settings.dkim_domain, load_key(settings.dkim_key))

    def sign(self, message: bytes) -> bytes:
        """The ``DKIM-Signature`` header line (CRLF-terminated) to put in front of ``message``."""
        try:
            signature = dkim.sign(
                message,
                self.selector.encode(),
                self.domain.encode(),
                self.private_key,
                # Simple body canonicalisation is safe here (quoted-printable lines of at most
                # 78 characters, no trailing blanks) and a sixth of relaxed's cost.
                canonicalize=(b"relaxed", b"simple"),
                include_headers=_INCLUDE,
                linesep=b"\r\n",
            )
        except dkim.DKIMException as exc:
            raise PermanentError(f"DKIM signing failed: {exc}") from None
        return bytes(signature)


def load_key(value: str) -> bytes:
    """A PEM string (literal ``\\n`` allowed, as env files often have it) or a file path."""
    text = value.strip()
    if text.startswith("-----BEGIN"):
        if "\n" not in text:
            text = text.replace("\\n", "\n")
        return text.replace("\r\n", "\n").encode() + b"\n"
    path = Path(text).expanduser()
    try:
        return path.read_bytes().replace(b"\r\n", b"\n")
    except OSError as exc:
        raise DkimConfigError(
            f"DEPESCHE_DKIM_KEY: cannot read key file {path}: {exc.strerror}"
        ) from None
