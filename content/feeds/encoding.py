"""Find out which encoding a feed's bytes are really in, and hand the parsers UTF-8.

Feeds declare their encoding twice (HTTP ``charset`` and the XML prolog) and both are often
wrong: a CMS writes windows-1252 under a UTF-8 prolog, or a server adds ``charset=ISO-8859-1``
to UTF-8 bytes. Trusting the declaration gives ``GrÃ¼ÃŸe`` or replacement characters in a
newsletter. The bytes decide instead: a byte-order mark wins; bytes that are valid UTF-8 are
UTF-8 (text in a legacy encoding is practically never valid UTF-8 once it has an umlaut); bytes
that are not UTF-8 use a declared legacy encoding, else windows-1252, the encoding of nearly all
mislabelled German feeds. Every correction is reported, so the feed's health shows it.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_PROLOG = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._:-]+)["']""")
_PROLOG_TEXT = re.compile(r"""^(\s*<\?xml[^>]*?encoding\s*=\s*["'])([A-Za-z0-9._:-]+)(["'])""")
_CHARSET = re.compile(r"""charset\s*=\s*["']?([A-Za-z0-9._:-]+)""", re.IGNORECASE)
_FALLBACK = "windows-1252"


@dataclass(frozen=True)
class Decoded:
    """The feed as text; ``problem`` says what was declared wrongly, if anything."""

    text: str
    encoding: str
    problem: str | None = None


def http_charset(content_type: str) -> str | None:
    match = _CHARSET.search(content_type)
    return match.group(1) if match else None


def decode(content: bytes, *, declared: list[str | None]) -> Decoded:
    """Decode ``content``; ``declared`` lists the encodings the feed claims, strongest first."""
    for bom, encoding in _BOMS:
        if content.startswith(bom):
            return Decoded(content[len(bom) :].decode(encoding, errors="replace"), encoding)
    claims = [name for name in (_codec(value) for value in declared) if name is not None]
    wide = next((name for name in claims if name.startswith(("utf-16", "utf-32"))), None)
    if wide is not None and b"\x00" in content[:64]:
        if wide in ("utf-16", "utf-32"):  # no BOM: ``<`` tells the byte order
            wide += "-be" if content[:1] == b"\x00" else "-le"
        return Decoded(content.decode(wide, errors="replace"), wide)
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        wrong = next((name for name in claims if name != "utf-8"), None)
        if wrong is not None and not text.isascii():
            return Decoded(text, "utf-8", f"declared as {wrong}, but is UTF-8")
        return Decoded(text, "utf-8")
    legacy = next((name for name in claims if name not in ("utf-8", wide)), None)
    for candidate in (legacy, _FALLBACK):
        if candidate is None:
            continue
        try:
            text = content.decode(candidate)
        except UnicodeDecodeError:
            continue
        claimed = claims[0] if claims else None
        if claimed == candidate:
            return Decoded(text, candidate)
        said = f"declared as {claimed}" if claimed else "no encoding declared"
        return Decoded(text, candidate, f"{said}, but is {candidate}")
    # Not even windows-1252 (it leaves five bytes undefined): keep every other character.
    text = content.decode(_FALLBACK, errors="replace")
    return Decoded(text, _FALLBACK, "undecodable bytes replaced")


def xml_prolog_encoding(content: bytes) -> str | None:
    """The encoding an XML prolog declares, if the prolog is in an ASCII-compatible encoding."""
    match = _PROLOG.match(content[:512])
    return match.group(1).decode("ascii") if match else None


def as_utf8_xml(text: str) -> bytes:
    """``text`` as UTF-8 whose prolog, if any, says so: the parser must not decode it again."""
    text = _PROLOG_TEXT.sub(r"\g<1>utf-8\g<3>", text, count=1)
    return text.encode("utf-8")


def _codec(name: str | None) -> str | None:
    """The canonical codec name, or None for names Python does not know (or ``x-user-defined``).

    Latin-1 becomes windows-1252, as browsers do: real ISO-8859-1 text has no C1 control
    characters, so the two agree wherever the label was right.
    """
    if not name:
        return None
    try:
        canonical = codecs.lookup(name).name
    except LookupError:
        return None
    aliases = {"latin-1": _FALLBACK, "iso8859-1": _FALLBACK, "cp1252": _FALLBACK}
    canonical = aliases.get(canonical, canonical)
    if canonical in ("utf-16", "utf-32"):
        return canonical
    return canonical.replace("_", "-")
