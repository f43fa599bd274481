"""The real encoding of a feed's bytes, whatever the labels say."""

from __future__ import annotations

import pytest

from content.feeds.encoding import as_utf8_xml, decode, http_charset, xml_prolog_encoding

TEXT = "Grüße aus Thüringen – „Zukunft“ für 5 €"


@pytest.mark.parametrize(
    ("raw", "declared", "encoding", "problem"),
    [
        (TEXT.encode("utf-8"), ["utf-8"], "utf-8", None),
        (TEXT.encode("utf-8"), [], "utf-8", None),
        (TEXT.encode("utf-8"), ["ISO-8859-1"], "utf-8", "declared as windows-1252, but is UTF-8"),
        (TEXT.encode("cp1252"), ["UTF-8"], "windows-1252", "declared as utf-8, but is"),
        (TEXT.encode("cp1252"), [], "windows-1252", "no encoding declared, but is windows-1252"),
        (TEXT.encode("cp1252"), ["windows-1252"], "windows-1252", None),
        ("Grüße".encode("iso-8859-15"), ["iso-8859-15"], "iso8859-15", None),
        (b"\xef\xbb\xbf" + TEXT.encode("utf-8"), ["latin-1"], "utf-8", None),
        (TEXT.encode("utf-16"), [], "utf-16-le", None),
        (TEXT.encode("utf-16-be"), ["utf-16"], "utf-16-be", None),
        (TEXT.encode("utf-16-le"), ["UTF-16"], "utf-16-le", None),
        ("Grüße".encode(), ["x-nonsense"], "utf-8", None),
    ],
)
def test_the_bytes_decide(raw: bytes, declared: list[str], encoding: str, problem: str | None):
    decoded = decode(raw, declared=list(declared))

    assert decoded.text.endswith("Grüße") or decoded.text == TEXT
    assert decoded.encoding == encoding
    if problem is None:
        assert decoded.problem is None
    else:
        assert decoded.problem is not None and problem in decoded.problem


def test_bytes_no_single_byte_encoding_defines_are_replaced_not_fatal():
    decoded = decode(b"Gr\x81\xfc\xdfe", declared=[])

    assert decoded.text == "Gr\ufffdüße"
    assert decoded.problem == "undecodable bytes replaced"


def test_labels_are_read_from_http_and_the_prolog():
    assert http_charset('application/rss+xml; charset="ISO-8859-1"') == "ISO-8859-1"
    assert http_charset("text/xml") is None
    assert xml_prolog_encoding(b"<?xml version='1.0' encoding='windows-1252'?><rss/>") == (
        "windows-1252"
    )
    assert xml_prolog_encoding(b"<rss/>") is None


def test_the_parser_gets_utf8_with_a_prolog_that_says_so():
    assert as_utf8_xml('<?xml version="1.0" encoding="windows-1252"?><t>ü</t>') == (
        '<?xml version="1.0" encoding="utf-8"?><t>ü</t>'.encode()
    )
    assert as_utf8_xml("<t>ü</t>") == "<t>ü</t>".encode()
