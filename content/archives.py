"""ZIP archives whose bytes depend only on their contents.

A DOCX is a ZIP, and so is a content pack. ``zipfile`` stamps every entry with the current local
time, so the same piece written twice would differ in bytes: the folder channel would rewrite it
and its checksum in ``manifest.json`` would change on every run. Every entry here gets one fixed
timestamp, fixed permissions and a fixed compression level instead.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable

# The earliest date a ZIP header can hold; any fixed date would do.
FIXED_DATE_TIME = (1980, 1, 1, 0, 0, 0)
_UNIX = 3  # "made by" Unix, so the permission bits below are read as such
_FILE_MODE = 0o100644


def deterministic_zip(entries: Iterable[tuple[str, bytes]]) -> bytes:
    """A ZIP of ``(name, content)`` entries in the given order, identical for identical input."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        seen: set[str] = set()
        for name, content in entries:
            if name in seen:
                raise ValueError(f"duplicate entry {name!r} in archive")
            seen.add(name)
            info = zipfile.ZipInfo(name, date_time=FIXED_DATE_TIME)
            info.create_system = _UNIX
            info.external_attr = _FILE_MODE << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, content, compresslevel=9)
    return buffer.getvalue()


def normalised_zip(data: bytes) -> bytes:
    """The same archive (same entries, same order) with every entry stamped as above."""
    with zipfile.ZipFile(io.BytesIO(data)) as source:
        entries = [(info.filename, source.read(info)) for info in source.infolist()]
    return deterministic_zip(entries)
