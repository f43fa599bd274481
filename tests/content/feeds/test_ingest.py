"""The whole pipeline against a real HTTP server and a migrated database."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from campaigns.schema import Feed, FetchSection
from config.db import session_scope
from config.models import Event
from content.ingest import ingest
from content.models import FeedState, Item
from tests.content.feeds.servers import FakeResolver

LIMITS = FetchSection(timeout=5, max_bytes=200_000, allow_networks=["127.0.0.1/32"])
Counter = Callable[[], dict[str, int]]


def run(database_url: str, feeds: list[Feed], now: datetime, base_dir: Path, **kw: Any) -> Any:
    return ingest(database_url, feeds, base_dir=base_dir, now=now, fetch=LIMITS, **kw)


def feed_state(database_url: str, feed_id: str) -> FeedState:
    with session_scope(database_url) as session:
        state = session.get(FeedState, feed_id)
        assert state is not None
        return state


def items(database_url: str) -> list[Item]:
    with session_scope(database_url) as session:
        return list(session.scalars(select(Item).order_by(Item.canonical_url)))


def test_second_ingest_with_etag_gets_304_and_stores_nothing_new(
    database_url: str,
    feed_server: Any,
    formats: Any,
    story: Any,
    now: datetime,
    tmp_path: Path,
    count_rows: Counter,
):
    url = feed_server.serve("/thueringen.xml", formats.rss(story(1), story(2)), etag='"r1"')
    feeds = [Feed(id="thueringen", url=url, tags=["Thüringen"])]

    first = run(database_url, feeds, now, tmp_path)
    after_first = count_rows()
    second = run(database_url, feeds, now + timedelta(hours=1), tmp_path)

    assert first[0].status == "ok" and len(first[0].new) == 2
    assert second[0].status == "not_modified" and second[0].new == []
    assert feed_server.requests_for("/thueringen.xml")[1].headers["if-none-match"] == '"r1"'
    assert count_rows() == after_first == {"items": 2, "sources": 2, "events": 2}
    state = feed_state(database_url, "thueringen")
    assert state.etag == '"r1"'
    assert state.last_success_at == now + timedelta(hours=1)


def test_second_ingest_with_last_modified_gets_304(
    database_url: str,
    feed_server: Any,
    formats: Any,
    story: Any,
    now: datetime,
    tmp_path: Path,
    count_rows: Counter,
):
    stamp = "Mon, 10 Mar 2025 08:00:00 GMT"
    url = feed_server.serve(
        "/bw.atom", formats.atom(story(1)), last_modified=stamp, content_type="application/atom+xml"
    )
    feeds = [Feed(id="bw", url=url)]

    run(database_url, feeds, now, tmp_path)
    second = run(database_url, feeds, now + timedelta(hours=1), tmp_path)

    assert second[0].status == "not_modified"
    assert feed_server.requests_for("/bw.atom")[1].headers["if-modified-since"] == stamp
    assert feed_state(database_url, "bw").last_modified == stamp
    assert count_rows() == {"items": 1, "sources": 1, "events": 1}


def test_same_story_in_two_feeds_with_utm_parameters_is_one_item_with_two_sources(
    database_url: str,
    feed_server: Any,
    formats: Any,
    story: Any,
    now: datetime,
    tmp_path: Path,
    count_rows: Counter,
):
    tracked = story(
        1, guid="ffm-4711", link="https://example.org/meldungen/1?utm_source=rss&utm_medium=feed"
    )
    feeds = [
        Feed(id="thueringen", url=feed_server.serve("/th.xml", formats.rss(story(1)))),
        Feed(
            id="frankfurt",
            url=feed_server.serve(
                "/ffm.json", formats.json(tracked), content_type="application/feed+json"
            ),
        ),
    ]

    outcomes = run(database_url, feeds, now, tmp_path)

    assert [(o.status, len(o.new), len(o.updated)) for o in outcomes] == [
        ("ok", 1, 0),
        ("ok", 0, 1),
    ]
    assert count_rows() == {"items": 1, "sources": 2, "events": 1}
    (item,) = items(database_url)
    assert item.canonical_url == "https://example.org/meldungen/1"
    assert {(s.feed_id, s.link) for s in item.sources} == {
        ("thueringen", "https://example.org/meldungen/1"),
        ("frankfurt", "https://example.org/meldungen/1?utm_source=rss&utm_medium=feed"),
    }


def test_repeated_guid_with_a_new_title_updates_without_a_new_event(
    database_url: str,
    feed_server: Any,
    formats: Any,
    story: Any,
    now: datetime,
    tmp_path: Path,
    count_rows: Counter,
):
    feeds = [Feed(id="krefeld", url=feed_server.serve("/krefeld.xml", formats.rss(story(1))))]
    first = run(database_url, feeds, now, tmp_path)
    feed_server.serve(
        "/krefeld.xml", formats.rss(story(1, title="Chempark Krefeld: neue Ausbildungsplätze"))
    )

    second = run(database_url, feeds, now + timedelta(hours=1), tmp_path)

    assert second[0].status == "ok"
    assert second[0].new == [] and second[0].updated == first[0].new
    assert count_rows() == {"items": 1, "sources": 1, "events": 1}
    (item,) = items(database_url)
    assert item.title == "Chempark Krefeld: neue Ausbildungsplätze"


def test_hostile_markup_never_reaches_the_database(
    database_url: str,
    feed_server: Any,
    formats: Any,
    story: Any,
    now: datetime,
    tmp_path: Path,
):
    hostile = story(
        1,
        title="<script>alert(1)</script>Mittelrhein <em>aktuell</em>",
        summary=(
            '<p onclick="steal()">Anmeldung <a href="javascript:alert(1)">hier</a>.</p>'
            "<script>document.cookie</script>"
        ),
    )
    feeds = [Feed(id="mittelrhein", url=feed_server.serve("/mr.xml", formats.rss(hostile)))]

    run(database_url, feeds, now, tmp_path)

    (item,) = items(database_url)
    assert item.title == "Mittelrhein aktuell"
    for forbidden in ("<script", "onclick", "javascript:", "alert", "cookie"):
        assert forbidden not in item.summary_html
    assert item.summary_text == "Anmeldung hier."


def test_entry_without_a_date_is_published_at_now(
    database_url: str,
    feed_server: Any,
    formats: Any,
    story: Any,
    now: datetime,
    tmp_path: Path,
):
    feeds = [
        Feed(id="nrw", url=feed_server.serve("/nrw.xml", formats.rss(story(1, published=None))))
    ]

    run(database_url, feeds, now, tmp_path)

    (item,) = items(database_url)
    assert item.published_at == now
    with session_scope(database_url) as session:
        event = session.scalars(select(Event)).one()
    assert event.payload["published"] == now.isoformat()


def test_relative_path_and_file_url_feeds_are_read_from_disk(
    database_url: str,
    formats: Any,
    story: Any,
    now: datetime,
    tmp_path: Path,
):
    workspace = tmp_path / "workspace"
    (workspace / "feeds").mkdir(parents=True)
    (workspace / "feeds" / "lokal.xml").write_text(formats.rss(story(1)), encoding="utf-8")
    elsewhere = tmp_path / "archiv.json"
    elsewhere.write_text(formats.json(story(2)), encoding="utf-8")
    feeds = [
        Feed(id="lokal", url="feeds/lokal.xml"),
        Feed(id="archiv", url=elsewhere.as_uri()),
    ]

    outcomes = run(database_url, feeds, now, workspace)
    again = run(database_url, feeds, now + timedelta(hours=1), workspace)

    assert [(o.status, len(o.new)) for o in outcomes] == [("ok", 1), ("ok", 1)]
    assert [o.status for o in again] == ["not_modified", "not_modified"]
    assert [item.canonical_url for item in items(database_url)] == [
        "https://example.org/meldungen/1",
        "https://example.org/meldungen/2",
    ]


def test_failing_feed_is_recorded_and_the_others_still_ingested(
    database_url: str,
    feed_server: Any,
    formats: Any,
    story: Any,
    now: datetime,
    tmp_path: Path,
):
    broken = feed_server.serve("/kaputt.xml", "Interner Serverfehler", status=500)
    feeds = [
        Feed(id="kaputt", url=broken),
        Feed(
            id="unlesbar",
            url=feed_server.serve(
                "/html", "<html><body>Wartung</body></html>", content_type="text/html"
            ),
        ),
        Feed(id="gut", url=feed_server.serve("/gut.xml", formats.rss(story(1)))),
    ]
    lines: list[str] = []

    outcomes = run(database_url, feeds, now, tmp_path, progress=lines.append)
    run(database_url, feeds, now + timedelta(hours=1), tmp_path)

    assert [o.status for o in outcomes] == ["error", "error", "ok"]
    assert (
        outcomes[0].error is not None and broken in outcomes[0].error and "500" in outcomes[0].error
    )
    assert outcomes[1].error is not None and "/html" in outcomes[1].error
    assert len(items(database_url)) == 1
    assert lines[0].startswith("kaputt: error:") and lines[2] == "gut: 1 new, 0 updated"
    state = feed_state(database_url, "kaputt")
    assert state.consecutive_failures == 2
    assert state.last_error == outcomes[0].error
    assert state.last_fetched_at == now + timedelta(hours=1)
    assert state.last_success_at is None


def test_recovered_feed_clears_its_error(
    database_url: str,
    feed_server: Any,
    formats: Any,
    story: Any,
    now: datetime,
    tmp_path: Path,
):
    url = feed_server.serve("/wackelig.xml", "Gateway Timeout", status=504)
    feeds = [Feed(id="wackelig", url=url)]
    run(database_url, feeds, now, tmp_path)
    feed_server.serve("/wackelig.xml", formats.rss(story(1)))

    outcome = run(database_url, feeds, now + timedelta(hours=1), tmp_path)

    assert outcome[0].status == "ok"
    state = feed_state(database_url, "wackelig")
    assert (state.consecutive_failures, state.last_error) == (0, None)
    assert state.last_success_at == now + timedelta(hours=1)


def test_feed_over_the_byte_cap_is_an_error(
    database_url: str,
    feed_server: Any,
    formats: Any,
    story: Any,
    now: datetime,
    tmp_path: Path,
):
    many = formats.rss(*(story(n) for n in range(1, 2000)))
    feeds = [Feed(id="riesig", url=feed_server.serve("/riesig.xml", many, send_length=False))]

    outcome = run(database_url, feeds, now, tmp_path)

    assert len(many) > LIMITS.max_bytes
    assert outcome[0].status == "error"
    assert outcome[0].error is not None and "limit of 200000 bytes" in outcome[0].error
    assert items(database_url) == []


def test_ingesting_twice_leaves_the_same_rows(
    database_url: str,
    feed_server: Any,
    formats: Any,
    story: Any,
    now: datetime,
    tmp_path: Path,
    count_rows: Counter,
):
    # No validators: the server sends everything again, so de-duplication must hold on its own.
    feeds = [
        Feed(id="bw", url=feed_server.serve("/bw.xml", formats.rss(story(1), story(2)))),
        Feed(
            id="th",
            url=feed_server.serve(
                "/th.atom", formats.atom(story(2), story(3)), content_type="application/atom+xml"
            ),
        ),
        Feed(id="ffm", url=feed_server.serve("/ffm.json", formats.json(story(3), story(4)))),
    ]

    run(database_url, feeds, now, tmp_path)
    first = count_rows()
    first_items = [(i.id, i.title, i.content_hash, i.tags) for i in items(database_url)]
    again = run(database_url, feeds, now + timedelta(hours=1), tmp_path)

    assert first == {"items": 4, "sources": 6, "events": 4}
    assert count_rows() == first
    assert [(o.status, o.new, o.updated) for o in again] == [("ok", [], [])] * 3
    assert [(i.id, i.title, i.content_hash, i.tags) for i in items(database_url)] == first_items


def test_changed_feed_url_does_not_send_the_old_validators(
    database_url: str,
    feed_server: Any,
    formats: Any,
    story: Any,
    now: datetime,
    tmp_path: Path,
):
    feed_server.serve("/alt.xml", formats.rss(story(1)), etag='"gleich"')
    feed_server.serve("/neu.xml", formats.rss(story(1), story(2)), etag='"gleich"')
    run(database_url, [Feed(id="region", url=feed_server.url("/alt.xml"))], now, tmp_path)

    outcome = run(database_url, [Feed(id="region", url=feed_server.url("/neu.xml"))], now, tmp_path)

    assert outcome[0].status == "ok" and len(outcome[0].new) == 1
    assert "if-none-match" not in feed_server.requests_for("/neu.xml")[0].headers
    assert feed_state(database_url, "region").url == feed_server.url("/neu.xml")


# --- concurrency, politeness, redirects ----------------------------------------------------------


def test_feeds_are_fetched_in_parallel_but_one_at_a_time_per_host(
    database_url: str, feed_server: Any, formats: Any, story: Any, now: datetime, tmp_path: Path
):
    hosts = ["a.example", "b.example", "c.example"]
    resolver = FakeResolver({host: [["127.0.0.1"]] for host in hosts})
    feeds = []
    for host in hosts:
        for number in range(3):
            path = f"/{host}/{number}.xml"
            feed_server.serve(path, formats.rss(story(len(feeds) + 1)), delay=0.15)
            feeds.append(Feed(id=f"{host[0]}{number}", url=feed_server.url(path, host=host)))
    limits = LIMITS.model_copy(update={"concurrency": 2})

    outcomes = ingest(
        database_url, feeds, base_dir=tmp_path, now=now, fetch=limits, resolver=resolver
    )

    assert [o.feed_id for o in outcomes] == [feed.id for feed in feeds]
    assert all(o.status == "ok" and len(o.new) == 1 for o in outcomes)
    assert set(feed_server.most_in_flight.values()) == {1}
    assert len(feed_server.most_in_flight) == 3
    assert feed_server.most_in_flight_total == 2


def test_a_slow_feed_fails_alone(
    database_url: str, feed_server: Any, formats: Any, story: Any, now: datetime, tmp_path: Path
):
    resolver = FakeResolver({"langsam.example": [["127.0.0.1"]], "flott.example": [["127.0.0.1"]]})
    feed_server.serve("/tropf.xml", formats.rss(story(1)), trickle=0.05)
    feed_server.serve("/gut.xml", formats.rss(story(2)))
    feeds = [
        Feed(id="tropf", url=feed_server.url("/tropf.xml", host="langsam.example")),
        Feed(id="gut", url=feed_server.url("/gut.xml", host="flott.example")),
    ]
    limits = LIMITS.model_copy(update={"total_timeout": 0.5})

    outcomes = ingest(
        database_url, feeds, base_dir=tmp_path, now=now, fetch=limits, resolver=resolver
    )

    assert [o.status for o in outcomes] == ["error", "ok"]
    assert outcomes[0].error is not None and "took longer than 0.5s in total" in outcomes[0].error
    assert outcomes[0].error.startswith("tropf: http://langsam.example:")


def test_a_permanent_redirect_updates_where_the_feed_is_fetched(
    database_url: str, feed_server: Any, formats: Any, story: Any, now: datetime, tmp_path: Path
):
    new_home = feed_server.serve("/neu.xml", formats.rss(story(1)), etag='"n1"')
    old = feed_server.serve("/alt.xml", "", status=301, headers={"Location": "/neu.xml"})
    feeds = [Feed(id="umzug", url=old)]

    run(database_url, feeds, now, tmp_path)
    again = run(database_url, feeds, now + timedelta(hours=1), tmp_path)

    assert again[0].status == "not_modified"
    assert len(feed_server.requests_for("/alt.xml")) == 1
    assert feed_server.requests_for("/neu.xml")[1].headers["if-none-match"] == '"n1"'
    state = feed_state(database_url, "umzug")
    assert (state.url, state.fetch_url) == (old, new_home)


def test_a_temporary_redirect_leaves_the_url_alone(
    database_url: str, feed_server: Any, formats: Any, story: Any, now: datetime, tmp_path: Path
):
    feed_server.serve("/heute.xml", formats.rss(story(1)))
    old = feed_server.serve("/feed.xml", "", status=302, headers={"Location": "/heute.xml"})

    run(database_url, [Feed(id="kurz", url=old)], now, tmp_path)
    run(database_url, [Feed(id="kurz", url=old)], now + timedelta(hours=1), tmp_path)

    assert len(feed_server.requests_for("/feed.xml")) == 2
    assert feed_state(database_url, "kurz").fetch_url is None


def test_health_is_recorded_for_every_outcome(
    database_url: str, feed_server: Any, formats: Any, story: Any, now: datetime, tmp_path: Path
):
    url = feed_server.serve("/bw.xml", formats.rss(story(1)), etag='"e"')
    feeds = [Feed(id="bw", url=url, interval=timedelta(minutes=30))]

    run(database_url, feeds, now, tmp_path)
    first = feed_state(database_url, "bw")
    run(database_url, feeds, now + timedelta(hours=1), tmp_path)
    second = feed_state(database_url, "bw")

    assert (first.last_status, first.next_fetch_at, first.host) == (
        "ok",
        now + timedelta(minutes=30),
        "127.0.0.1",
    )
    assert (second.last_status, second.last_success_at) == (
        "not_modified",
        now + timedelta(hours=1),
    )


def test_ingest_feed_runs_one_feed_of_a_workspace_by_id(
    database_url: str, formats: Any, story: Any, now: datetime, tmp_path: Path
):
    from campaigns.schema import WorkspaceConfig, WorkspaceSection
    from campaigns.workspace import Workspace
    from content.ingest import ingest_feed

    (tmp_path / "lokal.xml").write_text(formats.rss(story(1)), encoding="utf-8")
    workspace = Workspace(
        root=tmp_path,
        config=WorkspaceConfig(workspace=WorkspaceSection(name="Test"), fetch=LIMITS),
        initiatives={},
        feeds={"lokal": Feed(id="lokal", url="lokal.xml")},
        campaigns={},
        revision="r",
    )

    outcome = ingest_feed(database_url, workspace, "lokal", now=now)
    missing = ingest_feed(database_url, workspace, "weg", now=now)

    assert outcome.status == "ok" and len(outcome.new) == 1
    assert missing.status == "error" and missing.error is not None and "feeds.yaml" in missing.error


def test_parsing_in_worker_processes_stores_the_same(
    database_url: str, feed_server: Any, formats: Any, story: Any, now: datetime, tmp_path: Path
):
    feeds = [
        Feed(id="bw", url=feed_server.serve("/bw.xml", formats.rss(story(1), story(2)))),
        Feed(id="kaputt", url=feed_server.serve("/k.xml", "<html>Wartung</html>")),
        Feed(id="th", url=feed_server.serve("/th.json", formats.json(story(3)))),
    ]

    outcomes = ingest(
        database_url, feeds, base_dir=tmp_path, now=now, fetch=LIMITS, parse_processes=2
    )

    assert [(o.status, len(o.new)) for o in outcomes] == [("ok", 2), ("error", 0), ("ok", 1)]
    assert outcomes[1].error is not None and outcomes[1].error.startswith("kaputt: http://")
    assert [i.title for i in items(database_url)] == [
        f"Industriedialog Thüringen: Fachkräfte sichern ({n})" for n in (1, 2, 3)
    ]
