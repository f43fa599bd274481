"""The press release in every format press offices use: Markdown, HTML, PDF (A4) and DOCX."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import UTC, datetime
from html import escape
from pathlib import Path

import docx
import pypdf
import pytest
from PIL import Image

from campaigns.workspace import Workspace, load_workspace
from content.archives import FIXED_DATE_TIME
from content.composers import compose
from content.composers.base import ComposedPiece, CompositionInput
from content.press.pdf import render_pdf
from tests.services import EXAMPLE

A4_POINTS = (595, 842)


@pytest.fixture(scope="module")
def workspace() -> Workspace:
    return load_workspace(EXAMPLE)


def release_of(workspace: Workspace, initiative: str = "krefeld") -> ComposedPiece:
    inp = CompositionInput(
        workspace_root=workspace.root,
        campaign_name="woche-der-industrie",
        campaign=workspace.campaigns["woche-der-industrie"],
        deliverable_id="pressemitteilung",
        initiative=workspace.initiatives[initiative],
        due_at=datetime(2026, 11, 9, 9, 0, tzinfo=UTC),
        candidates=(),
        feed_titles={},
        images=workspace.images,
    )
    (piece,) = compose(inp)
    return piece


def file_of(piece: ComposedPiece, name: str) -> bytes:
    return next(f.content for f in piece.files if f.name == name)


@pytest.fixture(scope="module")
def krefeld(workspace: Workspace) -> ComposedPiece:
    return release_of(workspace)


def flat(text: str) -> str:
    """Text with line breaks and runs of spaces as single spaces (PDF text is wrapped)."""
    return re.sub(r"\s+", " ", text).strip()


def test_release_comes_as_markdown_html_pdf_and_docx(krefeld: ComposedPiece) -> None:
    assert [(f.name, f.media_type) for f in krefeld.files] == [
        ("press_release.md", "text/markdown"),
        ("press_release.html", "text/html"),
        ("press_release.pdf", "application/pdf"),
        (
            "press_release.docx",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
        ("press_release-woche-der-industrie.png", "image/png"),
    ]


def test_pdf_text_contains_the_dateline_and_lead(krefeld: ComposedPiece) -> None:
    reader = pypdf.PdfReader(io.BytesIO(file_of(krefeld, "press_release.pdf")))
    text = flat("\n".join(page.extract_text() for page in reader.pages))
    assert (
        "Krefeld, 9. November 2026 – Die Industrieinitiative Krefeld eröffnet heute gemeinsam "
        "mit Unternehmen, Betriebsräten, Kammern und Gewerkschaften die Woche der Industrie"
    ) in text
    assert "Über die Industrieinitiative Krefeld" in text
    assert "Pressekontakt" in text and "Abdruck honorarfrei – Beleg erbeten" in text


def test_pdf_is_a4_with_the_embargo_on_top_of_every_page(krefeld: ComposedPiece) -> None:
    reader = pypdf.PdfReader(io.BytesIO(file_of(krefeld, "press_release.pdf")))
    assert len(reader.pages) >= 2  # so "every page" is more than the first one
    for number, page in enumerate(reader.pages, start=1):
        box = page.mediabox
        assert (round(float(box.width)), round(float(box.height))) == A4_POINTS
        text = flat(page.extract_text())
        assert "Sperrfrist: Montag, 9. November 2026, 10:00 Uhr" in text, number
        assert f"Seite {number} von {len(reader.pages)}" in text


def test_docx_holds_every_part_of_a_german_press_release(krefeld: ComposedPiece) -> None:
    document = docx.Document(io.BytesIO(file_of(krefeld, "press_release.docx")))
    paragraphs = [p.text for p in document.paragraphs]
    by_style = {p.style.name: p.text for p in document.paragraphs if p.style is not None}

    assert by_style["Heading 1"] == "Industrieinitiative Krefeld eröffnet die Woche der Industrie"
    assert by_style["Heading 2"].startswith("Betriebe, Betriebsräte, Kammern und Gewerkschaften")
    assert any(
        p.startswith("Krefeld, 9. November 2026 – Die Industrieinitiative") for p in paragraphs
    )
    quotes = [p for p in paragraphs if re.fullmatch(r"„[^“]+“, sagt [^,]+, .+\.", p)]
    assert [q.split("“, sagt ")[1] for q in quotes] == [
        "Dr. Verena Hollstein, Geschäftsführerin der Uerdinger Wasserstoff GmbH.",
        "Sebastian Kühlwetter, Betriebsratsvorsitzender der Linner Edelstahl GmbH.",
    ]
    assert "Zeichen (inkl. Leerzeichen): 2.399" in paragraphs
    assert "Über die Industrieinitiative Krefeld" in paragraphs
    assert "Pressekontakt" in paragraphs
    contact = paragraphs[paragraphs.index("Pressekontakt") + 1]
    assert "Telefon: 0221 4710-514" in contact and "presse@krefeld.example.org" in contact
    assert paragraphs[-1] == "Abdruck honorarfrei – Beleg erbeten"
    header = document.sections[0].header.paragraphs[0].text
    assert header == "Sperrfrist: Montag, 9. November 2026, 10:00\u00a0Uhr"


def test_docx_is_a4_german_and_dated_by_the_release(krefeld: ComposedPiece) -> None:
    document = docx.Document(io.BytesIO(file_of(krefeld, "press_release.docx")))
    section = document.sections[0]
    assert section.page_width is not None and section.page_height is not None
    assert (round(section.page_width.mm), round(section.page_height.mm)) == (210, 297)
    properties = document.core_properties
    assert properties.language == "de-DE"
    assert properties.author == "Industrieinitiative Krefeld"
    assert properties.created == datetime(2026, 11, 9, 9, 0, tzinfo=UTC)
    assert properties.title == "Industrieinitiative Krefeld eröffnet die Woche der Industrie"


def test_release_without_embargo_has_no_sperrfrist_anywhere(workspace: Workspace) -> None:
    campaign = workspace.campaigns["woche-der-industrie"]
    deliverables = [
        d.model_copy(update={"embargo": None}) if d.id == "pressemitteilung" else d
        for d in campaign.deliverables
    ]
    changed = campaign.model_copy(update={"deliverables": deliverables})
    inp = CompositionInput(
        workspace_root=workspace.root,
        campaign_name="woche-der-industrie",
        campaign=changed,
        deliverable_id="pressemitteilung",
        initiative=workspace.initiatives["krefeld"],
        due_at=datetime(2026, 11, 9, 9, 0, tzinfo=UTC),
        candidates=(),
        feed_titles={},
        images=workspace.images,
    )
    (piece,) = compose(inp)
    pdf = pypdf.PdfReader(io.BytesIO(file_of(piece, "press_release.pdf")))
    assert all("Sperrfrist" not in page.extract_text() for page in pdf.pages)
    document = docx.Document(io.BytesIO(file_of(piece, "press_release.docx")))
    assert document.sections[0].header.paragraphs[0].text == ""


def test_same_release_renders_to_the_same_bytes(
    workspace: Workspace, krefeld: ComposedPiece
) -> None:
    again = release_of(workspace)
    assert [f.content for f in again.files] == [f.content for f in krefeld.files]
    with zipfile.ZipFile(io.BytesIO(file_of(krefeld, "press_release.docx"))) as archive:
        assert {info.date_time for info in archive.infolist()} == {FIXED_DATE_TIME}


def test_each_initiative_gets_its_own_quotes_and_contact(workspace: Workspace) -> None:
    piece = release_of(workspace, "thueringen")
    document = docx.Document(io.BytesIO(file_of(piece, "press_release.docx")))
    text = "\n".join(p.text for p in document.paragraphs)
    assert "Dr. Friederike Mosch" in text and "Ronny Kaufhold" in text
    assert "Hollstein" not in text
    assert "Über die Allianz Industrie Thüringen" in text


def test_pdf_renderer_reads_no_file_outside_the_workspace(tmp_path: Path) -> None:
    secret = tmp_path / "outside.svg"
    secret.write_text(
        '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
        '<text y="10">GEHEIM</text></svg>'
    )
    workspace = tmp_path / "workspace"
    (workspace / "assets").mkdir(parents=True)
    (workspace / "assets" / "inside.svg").write_text(secret.read_text().replace("GEHEIM", "LOGO"))
    html = (
        "<html><body><p>Text</p>"
        f'<img src="{secret.as_uri()}" alt="x"><img src="assets/inside.svg" alt="y">'
        "</body></html>"
    )
    pdf = pypdf.PdfReader(io.BytesIO(render_pdf(html, base_dir=workspace)))
    text = pdf.pages[0].extract_text()
    assert "LOGO" in text and "GEHEIM" not in text


def test_press_image_appears_in_every_format_with_caption_and_credit(
    krefeld: ComposedPiece, workspace: Workspace
) -> None:
    asset = workspace.images["woche-der-industrie"]
    name = "press_release-woche-der-industrie.png"
    with Image.open(io.BytesIO(file_of(krefeld, name))) as image:
        assert image.format == "PNG" and not set(image.info) - {"dpi", "gamma", "srgb"}
    html = file_of(krefeld, "press_release.html").decode()
    assert f'<img src="{name}" alt="{escape(asset.alt)}"' in html
    assert f"<figcaption>{escape(asset.caption)}<br>{escape(asset.credit)} · " in html
    markdown = file_of(krefeld, "press_release.md").decode()
    assert f"![{asset.alt}]({name})\n*{asset.caption}*\n{asset.credit} · " in markdown
    assert krefeld.facts["images"] == [name]

    reader = pypdf.PdfReader(io.BytesIO(file_of(krefeld, "press_release.pdf")))
    # WeasyPrint shares one resource dictionary between the pages: one image, listed per page.
    embedded = {(image.name, image.image.size) for page in reader.pages for image in page.images}
    assert [size for _, size in embedded] == [(2400, 1260)]
    text = flat("\n".join(page.extract_text() for page in reader.pages))
    assert flat(asset.caption) in text and asset.credit in text

    document = docx.Document(io.BytesIO(file_of(krefeld, "press_release.docx")))
    assert len(document.inline_shapes) == 1
    assert document.inline_shapes[0]._inline.docPr.get("descr") == asset.alt
    paragraphs = [p.text for p in document.paragraphs]
    assert f"{asset.caption}\n{asset.credit} · Abdruck honorarfrei bei Nennung der Quelle" in (
        paragraphs
    )


def test_release_names_no_image_when_the_deliverable_has_none(workspace: Workspace) -> None:
    campaign = workspace.campaigns["woche-der-industrie"]
    deliverables = [
        d.model_copy(update={"image": None}) if d.id == "pressemitteilung" else d
        for d in campaign.deliverables
    ]
    inp = CompositionInput(
        workspace_root=workspace.root,
        campaign_name="woche-der-industrie",
        campaign=campaign.model_copy(update={"deliverables": deliverables}),
        deliverable_id="pressemitteilung",
        initiative=workspace.initiatives["krefeld"],
        due_at=datetime(2026, 11, 9, 9, 0, tzinfo=UTC),
        candidates=(),
        feed_titles={},
        images=workspace.images,
    )
    (piece,) = compose(inp)
    assert not [f for f in piece.files if f.media_type.startswith("image/")]
    assert b"<figure>" not in file_of(piece, "press_release.html")
    document = docx.Document(io.BytesIO(file_of(piece, "press_release.docx")))
    assert len(document.inline_shapes) == 0
    assert "images" not in piece.facts
