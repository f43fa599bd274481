"""One press release as structured data, the single source of its Markdown, HTML, PDF and DOCX.

Templates receive the same values as a context; the DOCX writer has no template language and
reads the fields directly, so both always carry the same text.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime

from campaigns.schema import Contact


@dataclass(frozen=True)
class ReleaseQuote:
    text: str
    name: str
    function: str

    @property
    def sentence(self) -> str:
        """„…“, sagt Name, Funktion. — the German attribution after the quote."""
        return f"„{self.text}“, sagt {self.name}, {self.function}."


@dataclass(frozen=True)
class ReleaseImage:
    """A press photo as it goes out: the file in the piece (and the pack) and its legal lines."""

    file: str
    media_type: str
    content: bytes
    width: int
    height: int
    alt: str
    caption: str  # what, where, when; who is shown („v. l. n. r.: …“)
    credit: str  # „Foto: Name / Organisation“ (§ 13 UrhG)

    @property
    def data_uri(self) -> str:
        """The image inline, for the PDF renderer, which reads no file beside the HTML."""
        return f"data:{self.media_type};base64,{base64.b64encode(self.content).decode()}"


@dataclass(frozen=True)
class PressRelease:
    initiative_name: str
    brand_color: str
    lang: str
    locale: str
    headline: str
    subline: str | None
    dateline: str
    lead: str
    body: tuple[str, ...]
    quotes: tuple[ReleaseQuote, ...]
    embargo: str | None
    characters: int
    char_count: str
    boilerplate: str
    contact: Contact
    issued_at: datetime
    images: tuple[ReleaseImage, ...] = ()

    @property
    def about_heading(self) -> str:
        return f"Über die {self.initiative_name}"

    @property
    def contact_lines(self) -> tuple[str, ...]:
        c = self.contact
        return (
            f"{c.name}, {c.function}",
            c.organisation,
            c.address,
            f"Telefon: {c.phone}",
            f"E-Mail: {c.email}",
        )


LABEL = "Pressemitteilung"
REPRINT = "Abdruck honorarfrei – Beleg erbeten"
IMAGE_REPRINT = "Abdruck honorarfrei bei Nennung der Quelle"
