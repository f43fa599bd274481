"""The newsletter composer on fixed items: the .eml, its parts, Termine, audiences, quiet weeks."""

from __future__ import annotations

import email
import email.policy
import re
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from html.parser import HTMLParser

import icalendar
import pytest
import yaml

from campaigns.schema import Campaign, InitiativesFile, NewsletterDeliverable, UtmParameters
from content.composers.base import ComposedPiece, CompositionInput
from content.composers.newsletter import compose_newsletter, on_dark
from content.links import campaign_link
from content.selection import Candidate
from tests.content.test_editorial_checklist import _Text, general_problems
from tests.services import EXAMPLE

DUE = datetime(2026, 11, 16, 7, tzinfo=UTC)  # Monday 08:00 in Berlin
INITIATIVES = {
    i.slug: i
    for i in InitiativesFile.model_validate(
        yaml.safe_load((EXAMPLE / "initiatives.yaml").read_text())
    ).initiatives
}


def campaign(**changes: object) -> Campaign:
    data = yaml.safe_load((EXAMPLE / "campaigns" / "wochenrueckblick.yaml").read_text())
    digest = data["deliverables"][0]
    for key, value in changes.items():
        if key == "utm":
            data["utm"] = value
        elif value is None:
            digest.pop(key, None)
        else:
            digest[key] = value
    return Campaign.model_validate(data)


def item(
    n: int, title: str, feed: str, *, hours_ago: int = 5, tags: tuple[str, ...] = ()
) -> Candidate:
    return Candidate(
        item_id=f"i{n}",
        title=title,
        summary=f"{title}. Die Meldung nennt Ort, Zeit und Beteiligte.",
        url=f"https://{feed}.example.org/aktuelles/{n}",
        published=DUE - timedelta(hours=hours_ago),
        feeds=(feed,),
        tags=tags,
    )


ITEMS = (
    item(1, "Chempark Krefeld-Uerdingen plant Elektrolyseur", "krefeld", hours_ago=3),
    item(2, "Betriebsrat im Edelstahlwerk vereinbart Weiterbildung", "krefeld", hours_ago=30),
    item(3, "Strompreis: Sozialpartner fordern Entlastung", "sozialpartner", tags=("national",)),
    item(4, "Photonik in Jena wächst", "thueringen", hours_ago=8),
    item(5, "Werften in Ostfriesland starten Recycling", "netzwerk", tags=("national",)),
    item(6, "Wasserstoff für Busse im Münsterland", "nord-westfalen", hours_ago=50),
)
FEED_TITLES = {
    "krefeld": "Industrieinitiative Krefeld – Aktuelles",
    "sozialpartner": "Sozialpartner im Bündnis",
    "thueringen": "Allianz Industrie Thüringen – Aktuelles",
    "netzwerk": "Aus dem Netzwerk der regionalen Industrieinitiativen",
    "nord-westfalen": "Industrieinitiative Nord-Westfalen – Aktuelles",
}


def compose(
    slug: str = "krefeld",
    *,
    items: tuple[Candidate, ...] = ITEMS,
    due: datetime = DUE,
    **changes: object,
) -> list[ComposedPiece]:
    camp = campaign(**changes)
    spec = camp.deliverables[0]
    assert isinstance(spec, NewsletterDeliverable)
    inp = CompositionInput(
        workspace_root=EXAMPLE,
        campaign_name="wochenrueckblick",
        campaign=camp,
        deliverable_id=spec.id,
        initiative=INITIATIVES[slug],
        due_at=due,
        candidates=items,
        feed_titles=FEED_TITLES,
        partner_feeds={f: i.name for i in INITIATIVES.values() if i.slug != slug for f in i.feeds},
    )
    return compose_newsletter(inp, spec)


def file(piece: ComposedPiece, suffix: str) -> bytes:
    (found,) = [f.content for f in piece.files if f.name.endswith(suffix)]
    return found


def parsed(piece: ComposedPiece) -> EmailMessage:
    message = email.message_from_bytes(file(piece, ".eml"), policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.images: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.links.extend(v for k, v in attrs if k == "href" and v)
        if tag == "img":
            self.images.append(dict(attrs))


def item_links_in_html(html: str) -> set[str]:
    parser = _Links()
    parser.feed(html)
    return {link for link in parser.links if "utm_campaign" in link}


def item_links_in_text(text: str) -> set[str]:
    return set(re.findall(r"^Weiterlesen: (\S+)$", text, re.M))


def test_eml_parses_and_both_parts_carry_the_same_items() -> None:
    pieces = compose()
    assert pieces
    for piece in pieces:
        message = parsed(piece)
        assert message.get_content_type() == "multipart/mixed"
        alternative = next(iter(message.iter_parts()))
        assert alternative.get_content_type() == "multipart/alternative"
        plain = message.get_body(("plain",))
        html = message.get_body(("html",))
        assert plain is not None and html is not None
        text_part, html_part = plain.get_content().replace("\r\n", "\n"), html.get_content()
        assert text_part == file(piece, ".txt").decode()
        in_text, in_html = item_links_in_text(text_part), item_links_in_html(html_part)
        assert in_text == in_html
        assert {u.url for u in piece.items} == {link.split("?")[0] for link in in_text}
        for use in piece.items:
            title = next(c.title for c in ITEMS if c.url == use.url)
            assert title in text_part and title in html_part


def test_headers_with_umlauts_are_rfc2047_encoded_and_decode_back() -> None:
    (piece,) = compose("baden-wuerttemberg", audiences=None)
    raw = file(piece, ".eml")
    head = raw.split(b"\r\n\r\n", 1)[0]
    head.decode("ascii")  # nothing but ASCII in the header block
    assert b"=?utf-8?" in head
    message = parsed(piece)
    assert message["From"].addresses[0].display_name == "Industrieallianz Baden-Württemberg"
    assert str(message["Subject"]) == "KW 47: Baden-Württemberg – Industrie aktuell"
    assert str(message["X-Preheader"]).startswith("Meldungen, Termine und Hintergründe")
    assert "%%unsubscribe_url%%" in message["List-Unsubscribe"]
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["Message-ID"].endswith("@baden-wuerttemberg.example.org>")


def test_the_same_input_gives_the_same_bytes() -> None:
    first, second = compose(), compose()
    assert [f.content for p in first for f in p.files] == [
        f.content for p in second for f in p.files
    ]


def test_termine_are_ics_attachments_and_files_of_the_piece() -> None:
    (piece,) = compose(audiences=None)
    message = parsed(piece)
    attachments = list(message.iter_attachments())
    names = [a.get_filename() for a in attachments]
    assert names == [
        "termin-20261124-fachforum-fachkraeftesicherung-in-der-industrie.ics",
        "termin-20261201-industriedialog-strompreis-und-netzentgelte.ics",
        "termin-20261202-netzwerktreffen-der-regionalen-industrieinitiativen.ics",
        "termin-20261210-jahresabschluss-der-modellregionen.ics",
    ]
    first = attachments[0]
    assert first.get_content_type() == "text/calendar"
    calendar = icalendar.Calendar.from_ical(first.get_content())
    (event,) = calendar.walk("VEVENT")
    assert str(event["SUMMARY"]) == "Fachforum Fachkräftesicherung in der Industrie"
    assert event.decoded("DTSTART") == datetime(2026, 11, 24, 12, tzinfo=UTC)  # 13:00 in Erfurt
    assert str(event["LOCATION"]) == "Erfurt"
    assert file(piece, "-termin-20261124-fachforum-fachkraeftesicherung-in-der-industrie.ics") == (
        first.get_payload(decode=True)
    )


def test_html_is_600px_tables_inlined_dark_mode_safe_with_alt_texts_and_preheader() -> None:
    (piece,) = compose(audiences=None)
    html = file(piece, ".html").decode()
    assert 'width="600"' in html and 'role="presentation"' in html
    assert '<meta name="color-scheme" content="light dark">' in html
    assert "@media (prefers-color-scheme: dark)" in html  # kept after inlining
    assert 'class="masthead" bgcolor="#8b1e3f" style="background-color: #8b1e3f' in html
    assert html.count("<style>") == 1 and ".item h3 {" not in html  # the rest is inlined
    parser = _Links()
    parser.feed(html)
    assert all(image.get("alt") for image in parser.images)
    assert 'class="preheader"' in html and "Meldungen, Termine und Hintergründe" in html
    assert on_dark("#8b1e3f") not in ("#8b1e3f", "#ffffff")


def test_each_audience_is_its_own_piece_with_its_own_intro_and_file_names() -> None:
    pieces = compose()
    assert [p.audience for p in pieces] == [
        "unternehmen",
        "betriebsraete",
        "kammern",
        "gewerkschaften",
    ]
    names = [f.name for p in pieces for f in p.files]
    assert len(names) == len(set(names))
    works_councils = pieces[1]
    assert {f.name for f in works_councils.files} >= {
        "newsletter-betriebsraete.html",
        "newsletter-betriebsraete.txt",
        "newsletter-betriebsraete.eml",
    }
    text = file(works_councils, "betriebsraete.txt").decode()
    assert "für Betriebsrätinnen und Betriebsräte stellt Meldungen zu Mitbestimmung" in text
    # The works councils' weights lift the works-council item above the national one.
    order = [u.url for u in works_councils.items]
    assert order.index("https://krefeld.example.org/aktuelles/2") < 2


def test_network_section_brings_other_initiatives_and_partner_items_attributed() -> None:
    (piece,) = compose(audiences=None)
    text = file(piece, ".txt").decode()
    network = text.split("\nAUS DEM NETZWERK\n", 1)[1].split("Mit freundlichen Grüßen")[0]
    assert "Photonik in Jena wächst" in network
    assert "Quelle: Allianz Industrie Thüringen – Aktuelles" in network
    assert "krefeld.example.org" not in network  # never the initiative's own feed
    reasons = [u.reason for u in piece.items if "network" in u.reason]
    assert reasons and all("score" in r for r in reasons)


def test_manifest_reasons_name_what_matched_and_the_score() -> None:
    (piece,) = compose(audiences=None)
    top = piece.items[0]
    assert top.url == "https://krefeld.example.org/aktuelles/1"
    assert "keyword Chempark (title)" in top.reason and "region Krefeld" in top.reason
    assert f"score {top.score:.2f}" in top.reason


def test_an_editorial_appears_only_on_the_day_it_was_written_for() -> None:
    (with_none,) = compose(audiences=None)
    assert "EDITORIAL" not in file(with_none, ".txt").decode()
    monday = datetime(2026, 11, 9, 7, tzinfo=UTC)
    moved = tuple(
        Candidate(**{**c.__dict__, "published": c.published - timedelta(days=7)}) for c in ITEMS
    )
    (with_one,) = compose(items=moved, due=monday, audiences=None)
    assert (
        "\nEDITORIAL\n\nHeute beginnt die Woche der Industrie." in file(with_one, ".txt").decode()
    )


NOTHING = (item(9, "Neues aus der Fischerei", "fischerei"),)


def test_an_initiative_with_no_relevant_items_gets_no_issue_when_the_campaign_skips() -> None:
    assert compose(items=NOTHING, nothing_new="skip", network=None) == []


def test_an_initiative_with_no_relevant_items_gets_a_short_issue_that_says_so() -> None:
    pieces = compose(items=NOTHING, nothing_new="short", network=None, audiences=None)
    (piece,) = pieces
    assert piece.items == () and piece.facts["decision"] == "short"
    text = file(piece, ".txt").decode()
    assert (
        "Seit Montag, 9. November 2026, liegen uns keine neuen Meldungen zu den Themen der "
        "Industrieinitiative Krefeld vor. Die nächsten Termine finden Sie in dieser Ausgabe."
    ) in text
    assert "TOP-THEMA" not in text and "\nTERMINE\n" in text
    html = file(piece, ".html").decode()
    assert "keine neuen Meldungen" in html
    visible = _Text()
    visible.feed(html)
    for part in (text, "\n".join(visible.parts)):
        assert general_problems(part) == []
    message = parsed(piece)
    assert message.get_body(("plain",)) is not None


@pytest.mark.parametrize(
    ("utm", "kind", "expected"),
    [
        (
            True,
            "newsletter",
            "https://example.org/a?x=1&utm_source=krefeld&utm_medium=email&utm_campaign=c",
        ),
        (False, "newsletter", "https://example.org/a?x=1"),
        (True, "press_release", "https://example.org/a?x=1"),
        (
            UtmParameters(campaign="herbst", source="bund"),
            "newsletter",
            "https://example.org/a?x=1&utm_source=bund&utm_medium=email&utm_campaign=herbst",
        ),
        (UtmParameters(campaign="herbst"), "press_release", "https://example.org/a?x=1"),
    ],
)
def test_utm_follows_the_campaign_and_never_reaches_press(
    utm: bool | UtmParameters, kind: str, expected: str
) -> None:
    link = campaign_link(
        "https://example.org/a?x=1", utm, kind=kind, campaign="c", source="krefeld", medium="email"
    )
    assert link == expected


def test_a_campaign_without_utm_sends_clean_links() -> None:
    (piece,) = compose(audiences=None, utm=False)
    assert "utm_" not in file(piece, ".txt").decode() + file(piece, ".html").decode()


def test_example_campaign_declares_audiences_network_and_sections() -> None:
    digest = campaign().deliverables[0]
    assert isinstance(digest, NewsletterDeliverable)
    assert [a.id for a in digest.audiences] == [
        "unternehmen",
        "betriebsraete",
        "kammern",
        "gewerkschaften",
    ]
    assert digest.network is not None and digest.network.feeds == ["netzwerk"]
    assert digest.select.sections and digest.nothing_new == "short"
