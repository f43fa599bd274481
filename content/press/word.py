"""The press release as a Word file (DOCX), because press offices edit and forward Word files.

Built with python-docx from the structured release rather than converted from HTML, so every
paragraph is a real paragraph an editor can cut from the bottom. The Sperrfrist sits in the page
header, boxed, so it stands on top of every page; text is tagged German for Word's spell check.
The ZIP container is re-stamped (see :mod:`content.archives`) and the document properties carry
the release's own date, so the same release always gives the same bytes.
"""

from __future__ import annotations

import io
from datetime import UTC

from docx import Document
from docx.document import Document as DocumentObject
from docx.enum.text import WD_BREAK
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt, RGBColor
from docx.styles.style import ParagraphStyle
from docx.text.paragraph import Paragraph

from content.archives import normalised_zip
from content.press.release import IMAGE_REPRINT, LABEL, REPRINT, PressRelease, ReleaseImage

FONT = "Arial"
GREY = RGBColor(0x57, 0x60, 0x6A)
BLACK = RGBColor(0x1F, 0x23, 0x28)
TEXT_WIDTH_MM = 165  # A4 less the margins below
IMAGE_HEIGHT_MM = 95


def _language(style: ParagraphStyle, lang: str) -> None:
    r_pr = style.element.get_or_add_rPr()
    element = OxmlElement("w:lang")
    element.set(qn("w:val"), lang)
    element.set(qn("w:eastAsia"), lang)
    element.set(qn("w:bidi"), lang)
    r_pr.append(element)


def _boxed(paragraph: Paragraph) -> None:
    """A single-line border around the paragraph: the Sperrfrist box."""
    p_pr = paragraph._p.get_or_add_pPr()
    borders = OxmlElement("w:pBdr")
    for side in ("top", "left", "bottom", "right"):
        line = OxmlElement(f"w:{side}")
        line.set(qn("w:val"), "single")
        line.set(qn("w:sz"), "12")
        line.set(qn("w:space"), "4")
        line.set(qn("w:color"), "1F2328")
        borders.append(line)
    p_pr.append(borders)


def _lines(paragraph: Paragraph, lines: list[str] | tuple[str, ...]) -> None:
    """Lines in one paragraph, separated by line breaks (an address block, a boilerplate)."""
    for index, line in enumerate(lines):
        run = paragraph.add_run(line)
        if index < len(lines) - 1:
            run.add_break(WD_BREAK.LINE)


def _figure(document: DocumentObject, image: ReleaseImage) -> None:
    """The photo at text width (at most 95 mm high), its alt text for screen readers, then
    caption and credit in one small paragraph below it."""
    width = min(TEXT_WIDTH_MM, IMAGE_HEIGHT_MM * image.width / image.height)
    picture = (
        document.add_paragraph().add_run().add_picture(io.BytesIO(image.content), width=Mm(width))
    )
    picture._inline.docPr.set("descr", image.alt)
    caption = document.add_paragraph()
    _lines(caption, (image.caption, f"{image.credit} · {IMAGE_REPRINT}"))
    for run in caption.runs:
        run.font.size, run.font.color.rgb = Pt(9), GREY


def render_docx(release: PressRelease) -> bytes:
    document = Document()
    section = document.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin, section.bottom_margin = Mm(30), Mm(25)
    section.left_margin, section.right_margin = Mm(25), Mm(20)

    lang = release.locale.replace("_", "-")
    normal = document.styles["Normal"]
    assert isinstance(normal, ParagraphStyle)
    normal.font.name, normal.font.size = FONT, Pt(11)
    normal.paragraph_format.space_after = Pt(8)
    normal.paragraph_format.line_spacing = 1.15
    _language(normal, lang)
    for name, size in (("Heading 1", 18), ("Heading 2", 13), ("Heading 3", 11)):
        style = document.styles[name]
        assert isinstance(style, ParagraphStyle)
        style.font.name, style.font.size, style.font.color.rgb = FONT, Pt(size), BLACK
        style.font.bold = name != "Heading 2"

    if release.embargo:
        header = section.header.paragraphs[0]
        header.add_run(f"Sperrfrist: {release.embargo}").bold = True
        _boxed(header)

    label = document.add_paragraph().add_run(LABEL.upper())
    label.bold = True
    label.font.color.rgb = RGBColor.from_string(release.brand_color.removeprefix("#").upper())
    document.add_heading(release.headline, level=1)
    if release.subline:
        document.add_heading(release.subline, level=2)
    lead = document.add_paragraph()
    lead.add_run(release.dateline).bold = True
    lead.add_run(release.lead)
    for paragraph in release.body:
        document.add_paragraph(paragraph)
    for quote in release.quotes:
        document.add_paragraph(quote.sentence)
    for image in release.images:
        _figure(document, image)
    count = document.add_paragraph().add_run(f"Zeichen (inkl. Leerzeichen): {release.char_count}")
    count.font.size, count.font.color.rgb = Pt(9), GREY

    document.add_heading(release.about_heading, level=3)
    _lines(document.add_paragraph(), release.boilerplate.strip().splitlines())
    document.add_heading("Pressekontakt", level=3)
    _lines(document.add_paragraph(), release.contact_lines)
    reprint = document.add_paragraph().add_run(REPRINT)
    reprint.font.size, reprint.font.color.rgb = Pt(9), GREY

    issued = release.issued_at.astimezone(UTC)
    properties = document.core_properties
    properties.title = release.headline
    properties.subject = LABEL
    properties.author = properties.last_modified_by = release.initiative_name
    properties.comments = ""
    properties.keywords = LABEL
    properties.language = lang
    properties.created = properties.modified = issued
    properties.revision = 1

    buffer = io.BytesIO()
    document.save(buffer)
    return normalised_zip(buffer.getvalue())
