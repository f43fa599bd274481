"""The content pack: one ZIP per initiative and slot with every piece's files and the manifest.

This is what an initiative downloads or receives: unpacked, it is one folder named like the ZIP
holding everything of the slot ready to publish (press release as PDF and DOCX, newsletter,
posts, the images they use) and the ``manifest.json`` that says what each file is. The bytes
depend only on the contents (see :mod:`content.archives`), so a repeated run rewrites nothing.
"""

from __future__ import annotations

from collections.abc import Iterable

from content.archives import deterministic_zip


def pack_name(initiative: str, slot: str) -> str:
    """``krefeld-pressemitteilung-20261109T0900Z.zip``: says whose and which slot when forwarded."""
    return f"{initiative}-{slot}.zip"


def build_pack(initiative: str, slot: str, files: Iterable[tuple[str, bytes]]) -> bytes:
    """The ZIP of ``files`` (name, content) below one folder named like the pack."""
    root = pack_name(initiative, slot).removesuffix(".zip")
    return deterministic_zip((f"{root}/{name}", content) for name, content in files)
