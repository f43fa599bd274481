"""The content pack: one ZIP per initiative and slot, listed in the manifest, stable in bytes."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path

from content.archives import FIXED_DATE_TIME
from workers.channels.folder import Bundle, OutputFile, OutputPiece, deliver
from workers.channels.pack import pack_name


def bundle() -> Bundle:
    return Bundle(
        initiative="krefeld",
        campaign="woche-der-industrie",
        slot="pressemitteilung-20261109T0900Z",
        due_at="2026-11-09T09:00:00+00:00",
        pieces=(
            OutputPiece(
                kind="press_release",
                platform=None,
                files=(
                    OutputFile("press_release.md", "# Überschrift\n".encode()),
                    OutputFile("press_release.pdf", b"%PDF-1.7 fake"),
                    OutputFile("bild.jpg", b"\xff\xd8\xff image bytes"),
                ),
                items=(),
                key="woche-der-industrie/pressemitteilung-20261109T0900Z/krefeld/press_release",
                state="draft",
            ),
        ),
    )


def read_pack(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def test_pack_holds_every_file_and_the_manifest_below_one_folder(tmp_path: Path) -> None:
    receipt = deliver(bundle(), tmp_path)

    name = "krefeld-pressemitteilung-20261109T0900Z.zip"
    assert pack_name("krefeld", "pressemitteilung-20261109T0900Z") == name
    members = read_pack(receipt.path / name)
    root = "krefeld-pressemitteilung-20261109T0900Z/"
    assert list(members) == [
        f"{root}press_release.md",
        f"{root}press_release.pdf",
        f"{root}bild.jpg",
        f"{root}manifest.json",
    ]
    for member, content in members.items():
        if not member.endswith("manifest.json"):
            assert content == (receipt.path / member.removeprefix(root)).read_bytes()
    inner = json.loads(members[f"{root}manifest.json"])
    outer = json.loads((receipt.path / "manifest.json").read_text())
    assert "pack" not in inner
    assert {k: v for k, v in outer.items() if k != "pack"} == inner


def test_manifest_lists_the_pack_with_its_checksum(tmp_path: Path) -> None:
    receipt = deliver(bundle(), tmp_path)
    outer = json.loads((receipt.path / "manifest.json").read_text())
    pack = receipt.path / outer["pack"]["path"]
    assert hashlib.sha256(pack.read_bytes()).hexdigest() == outer["pack"]["sha256"]


def test_pack_bytes_do_not_depend_on_when_it_was_written(tmp_path: Path) -> None:
    first = deliver(bundle(), tmp_path / "a")
    second = deliver(bundle(), tmp_path / "b")
    name = pack_name("krefeld", "pressemitteilung-20261109T0900Z")
    assert (first.path / name).read_bytes() == (second.path / name).read_bytes()
    with zipfile.ZipFile(first.path / name) as archive:
        assert {info.date_time for info in archive.infolist()} == {FIXED_DATE_TIME}


def test_delivering_the_same_bundle_again_rewrites_nothing(tmp_path: Path) -> None:
    deliver(bundle(), tmp_path)
    folder = tmp_path / "krefeld" / "woche-der-industrie" / "pressemitteilung-20261109T0900Z"
    mtimes = {p: p.stat().st_mtime_ns for p in folder.iterdir()}

    again = deliver(bundle(), tmp_path)

    assert again.written == 0 and again.unchanged == len(mtimes)
    assert {p: p.stat().st_mtime_ns for p in folder.iterdir()} == mtimes


def test_every_demo_slot_folder_has_a_pack_of_exactly_its_files(demo_run) -> None:
    manifests = sorted(demo_run.out.rglob("manifest.json"))
    assert manifests
    for path in manifests:
        folder = path.parent
        outer = json.loads(path.read_text())
        members = read_pack(folder / outer["pack"]["path"])
        root = outer["pack"]["path"].removesuffix(".zip") + "/"
        listed = [f["path"] for piece in outer["pieces"] for f in piece["files"]]
        assert sorted(members) == sorted(root + name for name in [*listed, "manifest.json"])
        for name in listed:
            assert members[root + name] == (folder / name).read_bytes(), (folder, name)
        on_disk = {p.name for p in folder.iterdir()}
        assert on_disk == {*listed, "manifest.json", outer["pack"]["path"]}


def test_pack_of_a_press_release_carries_pdf_and_docx(demo_run) -> None:
    packs = sorted(demo_run.out.rglob("*-pressemitteilung-*.zip"))
    assert len(packs) == len(demo_run.workspace.initiatives)
    for pack in packs:
        names = {Path(member).name for member in read_pack(pack)}
        assert {"press_release.pdf", "press_release.docx", "press_release.md"} <= names
        with zipfile.ZipFile(io.BytesIO(pack.read_bytes())) as archive:
            assert archive.testzip() is None
