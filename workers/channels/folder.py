"""The folder channel: a slot's pieces for one initiative as files plus ``manifest.json``.

Layout (a contract other tools read): ``OUT/<initiative>/<campaign>/<slot>/``, with the content
pack ``<initiative>-<slot>.zip`` beside the files (listed under ``pack`` in the manifest). A file
whose bytes are already there is not rewritten, so a repeated run leaves every mtime alone.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workers.channels.pack import build_pack, pack_name


@dataclass(frozen=True)
class OutputFile:
    name: str
    content: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


@dataclass(frozen=True)
class OutputPiece:
    kind: str
    platform: str | None
    files: tuple[OutputFile, ...]
    items: tuple[dict[str, Any], ...]
    key: str
    state: str
    audience: str | None = None


@dataclass(frozen=True)
class Bundle:
    initiative: str
    campaign: str
    slot: str
    due_at: str
    pieces: tuple[OutputPiece, ...]


@dataclass(frozen=True)
class Receipt:
    path: Path
    written: int
    unchanged: int


def manifest(bundle: Bundle) -> dict[str, Any]:
    pieces = []
    for piece in bundle.pieces:
        entry: dict[str, Any] = {"key": piece.key, "kind": piece.kind, "state": piece.state}
        if piece.platform:
            entry["platform"] = piece.platform
        if piece.audience:
            entry["audience"] = piece.audience
        entry["files"] = [{"path": f.name, "sha256": f.sha256} for f in piece.files]
        entry["items"] = list(piece.items)
        pieces.append(entry)
    return {
        "initiative": bundle.initiative,
        "campaign": bundle.campaign,
        "slot": bundle.slot,
        "due_at": bundle.due_at,
        "pieces": pieces,
    }


def _write_if_changed(path: Path, content: bytes) -> bool:
    if path.is_file() and path.read_bytes() == content:
        return False
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(content)
    tmp.replace(path)
    return True


def pack_of(bundle: Bundle) -> OutputFile:
    """The content pack: every file of the bundle plus its manifest, as one deterministic ZIP.

    The pack holds the manifest without the pack's own entry (a file cannot contain its own
    checksum); the folder's manifest adds the entry.
    """
    files = [f for piece in bundle.pieces for f in piece.files]
    inner = (json.dumps(manifest(bundle), ensure_ascii=False, indent=2) + "\n").encode()
    packed = [(f.name, f.content) for f in files] + [("manifest.json", inner)]
    return OutputFile(
        pack_name(bundle.initiative, bundle.slot),
        build_pack(bundle.initiative, bundle.slot, packed),
    )


def deliver(bundle: Bundle, out_dir: Path) -> Receipt:
    """Write the bundle's folder atomically per file; the manifest last, once files are there."""
    folder = out_dir / bundle.initiative / bundle.campaign / bundle.slot
    folder.mkdir(parents=True, exist_ok=True)
    written = unchanged = 0
    files = [f for piece in bundle.pieces for f in piece.files]
    listing = manifest(bundle)
    pack = pack_of(bundle)
    listing["pack"] = {"path": pack.name, "sha256": pack.sha256}
    document = json.dumps(listing, ensure_ascii=False, indent=2) + "\n"
    files += [pack, OutputFile("manifest.json", document.encode())]
    for output in files:
        if _write_if_changed(folder / output.name, output.content):
            written += 1
        else:
            unchanged += 1
    return Receipt(folder, written, unchanged)
