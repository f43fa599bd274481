"""UTM parameters: appended in a fixed order, never replacing what a link already carries."""

from __future__ import annotations

import pytest

from content.links import campaign_link, with_utm


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "https://example.org/a",
            "https://example.org/a?utm_source=krefeld&utm_medium=email&utm_campaign=woche",
        ),
        (
            "https://example.org/a?id=7&q=Gr%C3%BC%C3%9Fe+aus&leer=#teil",
            "https://example.org/a?id=7&q=Gr%C3%BC%C3%9Fe+aus&leer="
            "&utm_source=krefeld&utm_medium=email&utm_campaign=woche#teil",
        ),
        (
            "https://example.org/a?utm_source=presse&x=1",
            "https://example.org/a?utm_source=presse&x=1&utm_medium=email&utm_campaign=woche",
        ),
        (
            "https://example.org/a?utm_source=a&utm_medium=b&utm_campaign=c",
            "https://example.org/a?utm_source=a&utm_medium=b&utm_campaign=c",
        ),
    ],
)
def test_utm_parameters_are_added_after_the_links_own(url: str, expected: str) -> None:
    for _ in range(2):  # the second call comes from the per-link cache
        assert with_utm(url, source="krefeld", medium="email", campaign="woche") == expected


def test_press_links_stay_untouched() -> None:
    url = "https://example.org/a"
    assert (
        campaign_link(url, True, kind="press_release", campaign="c", source="s", medium="m") == url
    )
