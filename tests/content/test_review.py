"""The review gate: enforced states, levels in order, auto policy, holds, stale, controls."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from campaigns.controls import ControlError, control
from campaigns.planner import upcoming
from campaigns.schema import ReviewLevels, review_levels
from campaigns.workspace import Workspace, load_workspace, validate_workspace
from config.db import get_engine, session_scope
from config.models import Event
from content.assembly import assemble
from content.models import Piece, PieceTransition
from content.review import (
    ConcurrentTransition,
    IllegalTransition,
    ReviewError,
    approve,
    comment,
    comments,
    find_piece,
    history,
    hold_reason,
    mark_stale,
    pending_levels,
    reject,
    review_setup,
    transition,
)
from tests.content.review_pieces import AFTER, BEFORE, PRESSETERMIN, make_piece, set_review


@pytest.fixture()
def workspace(example_workspace: Path) -> Workspace:
    return load_workspace(example_workspace)


def _events(session: Session, type_: str) -> list[Event]:
    return list(session.scalars(select(Event).where(Event.type == type_).order_by(Event.id)))


def test_example_press_release_asks_two_levels(workspace: Workspace) -> None:
    campaign = workspace.campaigns["woche-der-industrie"]
    assert campaign.review_levels("pressemitteilung") == ("network", "initiative")
    assert campaign.review_levels("kickoff") == ()
    assert workspace.config.review.network == ["presse@buendnis.example.org"]


def test_two_levels_approve_in_order_then_the_piece_is_approved(
    database_url: str, workspace: Workspace
) -> None:
    with session_scope(database_url) as session:
        piece = make_piece(session, workspace)
        assert piece.state == "draft"
        assert pending_levels(session, piece) == ("network", "initiative")
        with pytest.raises(ReviewError, match="level initiative approves after network"):
            approve(session, piece, actor="Lena Hägele", now=BEFORE, level="initiative")
        state = approve(session, piece, actor="Dr. Judith Rehberg", now=BEFORE)
        assert (state, pending_levels(session, piece)) == ("draft", ("initiative",))
        assert _events(session, "piece.approved") == []
        state = approve(session, piece, actor="Lena Hägele", now=AFTER, level="initiative")
        assert state == "approved"
        [event] = _events(session, "piece.approved")
        assert event.payload["actor"] == "Lena Hägele"
        assert event.payload["piece"] == piece.key
        assert event.occurred_at == AFTER
        levels = [e.payload["level"] for e in _events(session, "piece.level_approved")]
        assert levels == ["network", "initiative"]
        # A repeated approval (a retried command) changes nothing.
        assert approve(session, piece, actor="Lena Hägele", now=AFTER, level="initiative") == (
            "approved"
        )
        assert len(_events(session, "piece.approved")) == 1


def test_approved_needs_every_level_even_through_transition(
    database_url: str, workspace: Workspace
) -> None:
    with session_scope(database_url) as session:
        piece = make_piece(session, workspace)
        with pytest.raises(IllegalTransition, match="level network has not approved yet"):
            transition(session, piece, "approved", actor="someone", now=BEFORE)


def test_legal_path_records_every_move_with_actor_and_time(
    database_url: str, workspace: Workspace
) -> None:
    with session_scope(database_url) as session:
        piece = make_piece(session, workspace)
        approve(session, piece, actor="Dr. Judith Rehberg", now=BEFORE)
        approve(session, piece, actor="Lena Hägele", now=BEFORE)
        transition(session, piece, "scheduled", actor="delivery", now=AFTER)
        transition(session, piece, "failed", actor="delivery", now=AFTER, note="SMTP 550")
        transition(session, piece, "scheduled", actor="operator", now=AFTER)
        transition(session, piece, "delivered", actor="delivery", now=AFTER)
        moves = [(m.seq, m.from_state, m.to_state, m.actor) for m in history(session, piece)]
        assert moves == [
            (1, "draft", "approved", "Lena Hägele"),
            (2, "approved", "scheduled", "delivery"),
            (3, "scheduled", "failed", "delivery"),
            (4, "failed", "scheduled", "operator"),
            (5, "scheduled", "delivered", "delivery"),
        ]
        types = [e.type for e in session.scalars(select(Event).order_by(Event.id))]
        assert [t for t in types if t.startswith("piece.") and t != "piece.level_approved"] == [
            "piece.approved",
            "piece.scheduled",
            "piece.failed",
            "piece.scheduled",
            "piece.delivered",
        ]
        [failed] = _events(session, "piece.failed")
        assert failed.payload["note"] == "SMTP 550"


@pytest.mark.parametrize(
    ("path", "target"),
    [
        ((), "delivered"),
        ((), "scheduled"),
        (("rejected",), "approved"),
        (("approved", "scheduled", "delivered"), "failed"),
        (("stale",), "scheduled"),
    ],
)
def test_illegal_moves_name_the_piece_and_both_states(
    database_url: str, workspace: Workspace, path: tuple[str, ...], target: str
) -> None:
    with session_scope(database_url) as session:
        piece = make_piece(session, workspace)
        for state in path:
            if state == "approved":
                approve(session, piece, actor="a", now=BEFORE)
                approve(session, piece, actor="b", now=BEFORE)
            elif state == "rejected":
                reject(session, piece, actor="a", now=BEFORE, reason="Zitat fehlt")
            else:
                transition(session, piece, state, actor="a", now=BEFORE)
        before = piece.state
        with pytest.raises(IllegalTransition) as raised:
            transition(session, piece, target, actor="x", now=AFTER)
        message = str(raised.value)
        assert piece.key in message
        assert f"from {before} to {target}" in message
        assert piece.state == before


def test_rejected_piece_cannot_be_approved_and_keeps_its_reason(
    database_url: str, workspace: Workspace
) -> None:
    with session_scope(database_url) as session:
        piece = make_piece(session, workspace)
        reject(session, piece, actor="Dr. Judith Rehberg", now=BEFORE, reason="Zitat fehlt")
        with pytest.raises(IllegalTransition, match="from rejected to approved"):
            approve(session, piece, actor="Lena Hägele", now=AFTER)
        [event] = _events(session, "piece.rejected")
        assert event.payload["note"] == "Zitat fehlt"
        assert hold_reason(session, piece, workspace, AFTER) == "rejected: never sent"


def test_unknown_state_and_level_are_clear_errors(database_url: str, workspace: Workspace) -> None:
    with session_scope(database_url) as session:
        piece = make_piece(session, workspace)
        with pytest.raises(ReviewError, match="unknown state 'sent'"):
            transition(session, piece, "sent", actor="x", now=BEFORE)
        with pytest.raises(ReviewError, match="no level 'netzwerk'"):
            approve(session, piece, actor="x", now=BEFORE, level="netzwerk")
        with pytest.raises(ReviewError, match="no piece with id or key 'nope'"):
            find_piece(session, "nope")
        assert find_piece(session, str(piece.id)) is piece
        assert find_piece(session, piece.key) is piece


def test_concurrent_moves_from_one_state_let_only_one_win(
    database_url: str, workspace: Workspace
) -> None:
    with session_scope(database_url) as session:
        piece = make_piece(session, workspace, deliverable="kickoff", kind="newsletter")
        piece_id = piece.id
    # Two workers both loaded the piece approved; both try to schedule it.
    engine = get_engine(database_url)
    first = Session(engine, expire_on_commit=False)
    second = Session(engine, expire_on_commit=False)
    try:
        two = second.get(Piece, piece_id)
        second.commit()  # SQLite: give the write lock back; the object stays loaded
        one = first.get(Piece, piece_id)
        assert one is not None and two is not None
        transition(first, one, "scheduled", actor="worker-1", now=AFTER)
        first.commit()
        assert two.state == "approved"
        with pytest.raises(ConcurrentTransition, match="moved by someone else meanwhile"):
            transition(second, two, "scheduled", actor="worker-2", now=AFTER)
        second.rollback()
    finally:
        first.close()
        second.close()
    with session_scope(database_url) as session:
        moves = list(session.scalars(select(PieceTransition).order_by(PieceTransition.seq)))
        assert [(m.to_state, m.actor) for m in moves] == [
            ("approved", "auto"),
            ("scheduled", "worker-1"),
        ]


def test_comments_are_kept_once_per_key(database_url: str, workspace: Workspace) -> None:
    with session_scope(database_url) as session:
        piece = make_piece(session, workspace)
        comment(session, piece, actor="Lena Hägele", text="Zitat bitte kürzen", now=BEFORE)
        comment(session, piece, actor="Lena Hägele", text="Zitat bitte kürzen", now=BEFORE)
        comment(session, piece, actor="Dr. Judith Rehberg", text="Erledigt", now=AFTER)
        assert [(c.actor, c.text) for c in comments(session, piece)] == [
            ("Lena Hägele", "Zitat bitte kürzen"),
            ("Dr. Judith Rehberg", "Erledigt"),
        ]
        assert len(_events(session, "piece.commented")) == 2


def test_auto_policy_approves_at_composition_with_actor_auto(
    database_url: str, example_workspace: Path
) -> None:
    set_review(
        example_workspace,
        "woche-der-industrie",
        "levels: [network, initiative]",
        "levels: [network]",
    )
    set_review(
        example_workspace,
        "woche-der-industrie",
        "    review:\n      levels: [network]\n",
        "    review: auto\n",
    )
    workspace = load_workspace(example_workspace)
    [spec] = [
        s
        for s in upcoming(workspace, PRESSETERMIN, PRESSETERMIN + timedelta(minutes=1))
        if s.deliverable == "pressemitteilung"
    ]
    with session_scope(database_url) as session:
        [piece] = assemble(session, workspace, spec, "krefeld", now=BEFORE)
        assert piece.state == "approved"
        [move] = history(session, piece)
        assert (move.from_state, move.to_state, move.actor) == ("draft", "approved", "auto")
        assert [e.type for e in session.scalars(select(Event).order_by(Event.id))] == [
            "piece.drafted",
            "piece.approved",
        ]
        assert piece.embargo_until == PRESSETERMIN
        assert piece.send_at == PRESSETERMIN


def test_approval_policy_leaves_a_composed_piece_draft(
    database_url: str, workspace: Workspace
) -> None:
    [spec] = [
        s
        for s in upcoming(workspace, PRESSETERMIN, PRESSETERMIN + timedelta(minutes=1))
        if s.deliverable == "pressemitteilung"
    ]
    with session_scope(database_url) as session:
        [piece] = assemble(session, workspace, spec, "krefeld", now=BEFORE)
        assert piece.state == "draft"
        assert piece.provenance["review"] == ["network", "initiative"]
        assert (
            hold_reason(session, piece, workspace, AFTER) == "not approved: waits for level network"
        )


def test_embargo_holds_every_initiative_until_it_lifts(
    database_url: str, example_workspace: Path
) -> None:
    # The release may go out at the pressetermin (09:00 UTC), the Sperrfrist ends two hours later.
    set_review(
        example_workspace,
        "woche-der-industrie",
        "    embargo:\n      milestone: pressetermin\n",
        "    embargo:\n      milestone: pressetermin\n      offset: 2h\n",
    )
    workspace = load_workspace(example_workspace)
    lifted = PRESSETERMIN + timedelta(hours=2)
    with session_scope(database_url) as session:
        pieces = [
            make_piece(session, workspace, initiative=slug)
            for slug in sorted(workspace.initiatives)
        ]
        for piece in pieces:
            approve(session, piece, actor="Dr. Judith Rehberg", now=BEFORE)
            approve(session, piece, actor="Pressestelle", now=BEFORE)
            transition(session, piece, "scheduled", actor="delivery", now=BEFORE)
        assert len(pieces) == 6
        for piece in pieces:
            reason = hold_reason(session, piece, workspace, AFTER)
            assert reason == "embargo until 09.11.2026 12:00 Europe/Berlin", piece.initiative
            assert hold_reason(session, piece, workspace, lifted - timedelta(seconds=1)) == reason
            assert hold_reason(session, piece, workspace, lifted) is None


def test_send_at_holds_a_piece_without_embargo(database_url: str, workspace: Workspace) -> None:
    kickoff = PRESSETERMIN - timedelta(days=7)
    with session_scope(database_url) as session:
        piece = make_piece(
            session, workspace, deliverable="kickoff", kind="newsletter", due_at=kickoff
        )
        assert piece.state == "approved"
        early = kickoff - timedelta(hours=1)
        assert hold_reason(session, piece, workspace, early) == (
            "send-at 02.11.2026 10:00 Europe/Berlin"
        )
        assert hold_reason(session, piece, workspace, kickoff) is None


def test_changed_campaign_file_stales_its_unsent_pieces_only(
    database_url: str, example_workspace: Path
) -> None:
    workspace = load_workspace(example_workspace)
    with session_scope(database_url) as session:
        press = make_piece(session, workspace)
        approve(session, press, actor="a", now=BEFORE)
        approve(session, press, actor="b", now=BEFORE)
        kickoff = make_piece(session, workspace, deliverable="kickoff", kind="newsletter")
        sent = make_piece(
            session, workspace, deliverable="kickoff", kind="newsletter", initiative="thueringen"
        )
        transition(session, sent, "scheduled", actor="delivery", now=BEFORE)
        transition(session, sent, "delivered", actor="delivery", now=BEFORE)
        digest = make_piece(
            session,
            workspace,
            campaign="wochenrueckblick",
            deliverable="digest",
            kind="newsletter",
        )
        # Nothing changed yet: nothing goes stale.
        assert mark_stale(session, workspace, AFTER) == 0

    # A comment-only edit changes no campaign content; another campaign's edit stales nothing here.
    path = example_workspace / "campaigns" / "woche-der-industrie.yaml"
    path.write_text("# Kommentar\n" + path.read_text(encoding="utf-8"), encoding="utf-8")
    set_review(example_workspace, "wochenrueckblick", "max_items: 8", "max_items: 7")
    changed = load_workspace(example_workspace)
    with session_scope(database_url) as session:
        assert mark_stale(session, changed, AFTER) == 1  # only the digest
        assert session.get(Piece, digest.id).state == "stale"  # type: ignore[union-attr]

    # Now the press release's headline changes after approval.
    set_review(
        example_workspace,
        "woche-der-industrie",
        "eröffnet die Woche der Industrie'",
        "eröffnet die Industriewoche'",
    )
    changed = load_workspace(example_workspace)
    with session_scope(database_url) as session:
        release = session.get(Piece, press.id)
        assert release is not None
        assert hold_reason(session, release, changed, AFTER) == (
            "stale: campaigns/woche-der-industrie.yaml changed after approval"
        )
        # Kickoff and press release share the campaign but not the deliverable.
        assert mark_stale(session, changed, AFTER) == 1
        states = {p.id: p.state for p in session.scalars(select(Piece).order_by(Piece.id))}
        assert states == {
            press.id: "stale",
            kickoff.id: "approved",
            sent.id: "delivered",
            digest.id: "stale",
        }
        [event, _] = _events(session, "piece.stale")[::-1]
        assert event.payload["piece"] == press.key
        assert "woche-der-industrie.yaml changed" in event.payload["note"]
        assert hold_reason(session, release, changed, AFTER) == (
            "stale: its campaign changed after composition; compose it anew"
        )


def test_pause_resume_cancel(database_url: str, workspace: Workspace) -> None:
    known = frozenset(workspace.campaigns)
    kickoff = PRESSETERMIN - timedelta(days=7)
    with session_scope(database_url) as session:
        piece = make_piece(
            session, workspace, deliverable="kickoff", kind="newsletter", due_at=kickoff
        )
        transition(session, piece, "scheduled", actor="delivery", now=BEFORE)
        assert hold_reason(session, piece, workspace, AFTER) is None
        control(session, "woche-der-industrie", "pause", actor="Judith", now=AFTER, known=known)
        assert hold_reason(session, piece, workspace, AFTER) == (
            "campaign woche-der-industrie paused by Judith"
        )
        # Pausing twice is harmless; another campaign is untouched.
        control(session, "woche-der-industrie", "pause", actor="Judith", now=AFTER, known=known)
        assert len(_events(session, "campaign.paused")) == 1
        control(session, "woche-der-industrie", "resume", actor="Judith", now=AFTER, known=known)
        assert hold_reason(session, piece, workspace, AFTER) is None
        control(session, "woche-der-industrie", "cancel", actor="Judith", now=AFTER, known=known)
        assert hold_reason(session, piece, workspace, AFTER) == (
            "campaign woche-der-industrie cancelled by Judith: never sent"
        )
        with pytest.raises(ControlError, match="is cancelled; it cannot be resumed"):
            control(session, "woche-der-industrie", "resume", actor="J", now=AFTER, known=known)
        with pytest.raises(ControlError, match="'wochenrueckblik' is not in the workspace"):
            control(session, "wochenrueckblik", "pause", actor="J", now=AFTER, known=known)
        keys = [
            e.key
            for e in session.scalars(
                select(Event).where(Event.type.like("campaign.%")).order_by(Event.id)
            )
        ]
        assert keys == [
            "campaign.paused:woche-der-industrie:1",
            "campaign.resumed:woche-der-industrie:2",
            "campaign.cancelled:woche-der-industrie:3",
        ]


def test_network_review_without_reviewers_is_a_validation_problem(example_workspace: Path) -> None:
    config = example_workspace / "depesche.toml"
    text = config.read_text(encoding="utf-8")
    config.write_text(
        text.replace('network = ["presse@buendnis.example.org"]', "network = []"), encoding="utf-8"
    )
    problems = [str(p) for p in validate_workspace(example_workspace)]
    assert len(problems) == 1
    assert "woche-der-industrie.yaml:" in problems[0]
    assert "deliverables.1.review: the PR team (level 'network') must approve" in problems[0]


def test_a_deliverable_send_at_moves_its_pieces_later(example_workspace: Path) -> None:
    set_review(
        example_workspace,
        "woche-der-industrie",
        "    select:\n      lookback: 14d\n",
        "    send_at:\n      milestone: kickoff\n      offset: 2h\n"
        "    select:\n      lookback: 14d\n",
    )
    workspace = load_workspace(example_workspace)
    kickoff = PRESSETERMIN - timedelta(days=7, hours=1)  # 2 November, 09:00 in Berlin
    setup = review_setup(workspace, "woche-der-industrie", "kickoff", kickoff)
    assert setup.send_at == kickoff + timedelta(hours=2)
    assert setup.embargo_until is None
    assert setup.levels == ()


def test_initiative_reviewers_default_to_the_press_contact(example_workspace: Path) -> None:
    path = example_workspace / "initiatives.yaml"
    text = path.read_text(encoding="utf-8")
    marker = "  - slug: krefeld\n"
    assert marker in text
    path.write_text(
        text.replace(marker, marker + "    reviewers: [redaktion@krefeld.example.org]\n"),
        encoding="utf-8",
    )
    workspace = load_workspace(example_workspace)
    assert workspace.initiatives["krefeld"].reviewer_addresses == ("redaktion@krefeld.example.org",)
    assert workspace.initiatives["thueringen"].reviewer_addresses == (
        workspace.initiatives["thueringen"].press_contact.email,
    )


def test_review_policies_and_their_validation(example_workspace: Path) -> None:
    assert review_levels("auto") == ()
    assert review_levels("approval") == ("network",)
    assert review_levels(ReviewLevels(levels=["initiative"])) == ("initiative",)
    set_review(example_workspace, "wochenrueckblick", "review: auto", "review: approve")
    set_review(
        example_workspace,
        "woche-der-industrie",
        "levels: [network, initiative]",
        "levels: [network, network]",
    )
    problems = [str(p) for p in validate_workspace(example_workspace)]
    assert len(problems) == 2
    assert problems[0].endswith("deliverables.1.review.levels: each review level may appear once")
    expected = "review: expected 'auto' or 'approval' or a mapping (got 'approve')"
    assert problems[1].endswith(expected)
