"""DTDs are removed before parsing: entities are never expanded, external ones never fetched."""

from __future__ import annotations

from content.feeds.defuse import remove_doctype


def test_internal_subset_with_entities_is_removed_and_reported():
    text = (
        '<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "x>y]z"><!-- ] > --><?pi ]>?>'
        "<!ENTITY b SYSTEM 'file:///etc/passwd'>]><rss>&a;&b;</rss>"
    )

    defused = remove_doctype(text)

    assert defused.text == '<?xml version="1.0"?><rss>&a;&b;</rss>'
    assert defused.problem == "DOCTYPE with entity declarations removed; entities not expanded"


def test_public_doctype_without_entities_goes_quietly():
    text = (
        '<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" '
        '"http://my.netscape.com/publish/formats/rss-0.91.dtd"><rss/>'
    )

    defused = remove_doctype(text)

    assert defused.text == "<rss/>"
    assert defused.problem is None


def test_documents_without_doctype_are_untouched():
    assert remove_doctype("<rss><title>a > b</title></rss>").text == (
        "<rss><title>a > b</title></rss>"
    )


def test_unterminated_doctype_runs_to_the_end():
    assert remove_doctype('<rss/><!doctype x [<!ENTITY a "').text == "<rss/>"
