"""What every composer takes and returns: plain data, so composing never touches the database."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from campaigns.schema import Campaign, Hashtag, ImageAsset, Initiative
from content.formatting import Formatter
from content.selection import Candidate, Choice


@dataclass(frozen=True)
class FileData:
    name: str
    media_type: str
    content: bytes


@dataclass(frozen=True)
class ItemUse:
    """An item a piece used, and why: the provenance a reviewer reads in the manifest."""

    url: str
    reason: str
    score: float


@dataclass(frozen=True)
class ComposedPiece:
    kind: str
    files: tuple[FileData, ...]
    items: tuple[ItemUse, ...] = ()
    platform: str | None = None
    template: str = ""
    audience: str | None = None  # the audience variant (newsletter ``audiences``), if any
    facts: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class CompositionInput:
    """Everything a composer needs for one initiative in one slot."""

    workspace_root: Path
    campaign_name: str
    campaign: Campaign
    deliverable_id: str
    initiative: Initiative
    due_at: datetime
    candidates: tuple[Candidate, ...]
    feed_titles: dict[str, str]
    item: Candidate | None = None
    # Feed id → name of the partner whose own feed it is (other initiatives, network feeds).
    partner_feeds: dict[str, str] = field(default_factory=dict)
    # The workspace's canonical hashtag list and its image assets by id (social posts).
    hashtags: tuple[Hashtag, ...] = ()
    images: dict[str, ImageAsset] = field(default_factory=dict)

    @property
    def fmt(self) -> Formatter:
        return Formatter(self.initiative.locale, self.initiative.timezone)

    @property
    def where(self) -> str:
        return f"campaign {self.campaign_name}, initiative {self.initiative.slug}"

    @property
    def campaign_file(self) -> str:
        return str(self.workspace_root / "campaigns" / f"{self.campaign_name}.yaml")


@lru_cache(maxsize=8192)
def teaser(text: str, width: int) -> str:
    """A teaser cut at a word boundary with an ellipsis, never mid-word.

    Cached: an item's teaser is the same in every initiative's digest that carries it. A text
    that fits is what ``textwrap.shorten`` returns for it anyway: whitespace collapsed.
    """
    collapsed = " ".join(text.split())
    if len(collapsed) <= width:
        return collapsed
    return textwrap.shorten(text, width=width, placeholder=" …")


def item_use(choice: Choice) -> ItemUse:
    return ItemUse(choice.candidate.url, choice.reason, choice.score)
