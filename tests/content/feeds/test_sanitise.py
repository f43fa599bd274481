"""Hostile feed HTML is reduced to an allow-list; text keeps its paragraphs."""

from __future__ import annotations

from content.feeds.sanitise import html_to_text, sanitise_html, sanitised_html_to_text

BASE = "https://example.org/meldungen/1"


def test_script_onclick_and_javascript_links_are_removed():
    dirty = (
        '<p onclick="steal()">Die <strong>Landesregierung</strong> lädt ein.'
        "<script>document.location='https://evil.example.org'</script></p>"
        '<a href="javascript:alert(1)">Anmelden</a> '
        '<a href=" JaVaScRiPt:alert(2)">Nochmal</a>'
    )

    clean = sanitise_html(dirty, BASE)

    assert clean == (
        "<p>Die <strong>Landesregierung</strong> lädt ein.</p>"
        '<a rel="noopener noreferrer">Anmelden</a> <a rel="noopener noreferrer">Nochmal</a>'
    )


def test_links_become_absolute_and_never_share_the_opener():
    clean = sanitise_html(
        '<a href="/termine" target="_blank">Termine</a> '
        '<a href="mailto:presse@example.org">Presse</a>',
        BASE,
    )

    assert clean == (
        '<a href="https://example.org/termine" rel="noopener noreferrer">Termine</a> '
        '<a href="mailto:presse@example.org" rel="noopener noreferrer">Presse</a>'
    )


def test_other_tags_and_schemes_are_dropped_but_their_text_kept():
    clean = sanitise_html(
        '<div class="x"><img src="x" onerror="boom()"><h2>Zwischentitel</h2>'
        '<iframe src="https://evil.example.org"></iframe><style>p{}</style>'
        '<a href="data:text/html,hi">Daten</a><!-- Kommentar --></div>',
        BASE,
    )

    assert clean == 'Zwischentitel<a rel="noopener noreferrer">Daten</a>'


def test_html_to_text_keeps_paragraphs_and_decodes_entities():
    text = html_to_text(
        "<p>Erste&nbsp;Zeile &amp; mehr<br>zweite   Zeile</p>"
        "<p>Tarif&shy;runde &#8211; Ergebnis</p>"
        "<ul><li>Punkt eins</li><li>Punkt zwei</li></ul>"
        "<script>alert(1)</script>Schluss"
    )

    assert text == (
        "Erste\xa0Zeile & mehr\nzweite Zeile\n\n"
        "Tarif\xadrunde – Ergebnis\n\n"
        "- Punkt eins\n- Punkt zwei\n\n"
        "Schluss"
    )


def test_html_to_text_survives_broken_markup():
    assert html_to_text("<p>Offen <b>fett <i>kursiv</p><p>weiter") == "Offen fett kursiv\n\nweiter"


def test_plain_text_takes_the_short_way_with_the_same_result():
    for text, expected in [
        ("  Ein Auszug über Fördermaßnahmen […]  ", "Ein Auszug über Fördermaßnahmen […]"),
        ("Zeile\r\nZweite", "Zeile\nZweite"),  # not plain to a parser: it takes the long way
        ("\ufeffMit BOM", "Mit BOM"),
        ("5 < 6 & 7", "5 &lt; 6 &amp; 7"),
    ]:
        assert sanitise_html(text, BASE) == expected
        assert sanitised_html_to_text(expected) == html_to_text(expected)
