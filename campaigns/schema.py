"""The workspace's file formats as pydantic models.

These models are the contract between the PR team's files and the engine: every key a workspace
may use is declared here, and any other key is an error (``extra="forbid"``), so a misspelt
``shedule:`` fails validation instead of silently doing nothing.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]*$"
Slug = Annotated[str, Field(pattern=SLUG_PATTERN)]
Platform = Literal["mastodon", "bluesky", "linkedin", "x"]
PLATFORMS: tuple[Platform, ...] = ("mastodon", "bluesky", "linkedin", "x")

_DURATION = re.compile(r"^\s*(-?\d+)\s*([mhdw])\s*$")
_UNIT_SECONDS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(value: Any) -> timedelta:
    """Read ``30m``, ``6h``, ``1d`` or ``2w`` (a leading ``-`` for offsets before a milestone)."""
    if isinstance(value, timedelta):
        return value
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError(f"{value!r} is not a duration like 30m, 6h, 1d or 2w")
    amount, unit = match.groups()
    return timedelta(seconds=int(amount) * _UNIT_SECONDS[unit])


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


def _check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown timezone {name!r}") from exc
    return name


TimezoneName = Annotated[str, BeforeValidator(_check_timezone)]


class Strict(BaseModel):
    """Base of every workspace model: unknown keys are errors, values are not coerced loosely."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# --- initiatives.yaml ---------------------------------------------------------------------------


def _weighted_keywords(value: Any) -> Any:
    """Accept ``[Wasserstoff, {Chempark: 3}]`` or ``{Chempark: 3}``; a bare word weighs 1."""
    if isinstance(value, dict):
        return value
    if not isinstance(value, list):
        raise ValueError("keywords must be a list of words or 'word: weight' entries")
    weights: dict[str, Any] = {}
    for entry in value:
        if isinstance(entry, str):
            weights[entry] = 1.0
        elif isinstance(entry, dict) and len(entry) == 1:
            weights.update(entry)
        else:
            raise ValueError(f"keyword entry {entry!r} is neither a word nor 'word: weight'")
    return weights


class Interests(Strict):
    keywords: Annotated[dict[str, float], BeforeValidator(_weighted_keywords)] = {}
    topics: list[str] = []
    regions: list[str] = []


class Brand(Strict):
    color: Annotated[str, Field(pattern=r"^#[0-9a-fA-F]{6}$")]
    logo: str | None = None
    boilerplate: str


class Imprint(Strict):
    """Impressum per § 5 DDG plus the person responsible per § 18 Abs. 2 MStV."""

    organisation: str
    legal_form: str
    address: str
    representative: str
    email: str
    phone: str
    commercial_register: str | None = Field(default=None, alias="register")
    responsible: str
    privacy_url: str


class Contact(Strict):
    name: str
    function: str
    organisation: str
    address: str
    phone: str
    email: str


class Sender(Strict):
    name: str
    email: str
    reply_to: str | None = None


class Initiative(Strict):
    slug: Slug
    name: str
    level: Literal["Land", "Region", "Kommune"]
    region: str
    place: str
    locale: str = "de_DE"
    timezone: TimezoneName = "Europe/Berlin"
    tags: list[str] = []
    interests: Interests = Interests()
    feeds: list[str] = []
    brand: Brand
    imprint: Imprint
    press_contact: Contact
    sender: Sender


class InitiativesFile(Strict):
    initiatives: list[Initiative]


# --- feeds.yaml ---------------------------------------------------------------------------------


class Feed(Strict):
    id: Slug
    url: str
    title: str | None = None
    tags: list[str] = []
    interval: Duration = timedelta(hours=1)


class FeedsFile(Strict):
    feeds: list[Feed]


# --- campaigns/*.yaml ---------------------------------------------------------------------------


class Period(Strict):
    start: date
    end: date

    @model_validator(mode="after")
    def _ordered(self) -> Period:
        if self.end < self.start:
            raise ValueError("period.end lies before period.start")
        return self


class Selector(Strict):
    """Targets chosen by level and/or tag; an initiative matches when it passes every given rule."""

    levels: list[Literal["Land", "Region", "Kommune"]] = []
    tags: list[str] = []


class MilestoneRef(Strict):
    milestone: str
    offset: Duration = timedelta(0)


class EventFilter(Strict):
    feeds: list[str] = []
    tags: list[str] = []
    keywords: list[str] = []
    initiatives: list[str] = []


class Trigger(Strict):
    """Exactly one of ``schedule`` (cron or ``RRULE:``), ``at`` (date-time or milestone), ``on``."""

    schedule: str | None = None
    at: datetime | MilestoneRef | None = None
    on: Literal["item.published"] | None = None
    filter: EventFilter = EventFilter()
    window: Duration = timedelta(hours=24)

    @model_validator(mode="after")
    def _exactly_one(self) -> Trigger:
        given = [name for name in ("schedule", "at", "on") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError("a trigger needs exactly one of schedule, at, on")
        return self


class Selection(Strict):
    lookback: Duration = timedelta(days=7)
    max_items: Annotated[int, Field(ge=1, le=50)] = 8


class Signature(Strict):
    name: str
    function: str


class Editorial(Strict):
    text: str
    signed: Signature


class CalendarEntry(Strict):
    """A Termin: shown in newsletters while it lies in the future."""

    title: str
    start: datetime
    end: datetime | None = None
    place: str
    url: str | None = None


class Quote(Strict):
    text: str
    name: str
    function: str
    initiatives: list[str] | None = None


class _DeliverableBase(Strict):
    id: Slug
    trigger: Trigger
    template: str | None = None
    channels: list[str] = ["folder"]


class NewsletterDeliverable(_DeliverableBase):
    kind: Literal["newsletter"]
    subject: str
    preheader: str
    select: Selection = Selection()
    editorials: dict[date, Editorial] = {}
    signature: Signature


class SocialDeliverable(_DeliverableBase):
    kind: Literal["social"]
    platforms: list[Platform] = list(PLATFORMS)
    hashtags: list[Annotated[str, Field(pattern=r"^[A-ZÄÖÜ][\wÄÖÜäöüß]*$")]] = []
    intro: str | None = None


class PressReleaseDeliverable(_DeliverableBase):
    kind: Literal["press_release"]
    headline: Annotated[str, Field(max_length=80)]
    subline: str | None = None
    lead: str
    body: list[str]
    quotes: list[Quote] = []
    embargo: datetime | MilestoneRef | None = None
    place: str | None = None

    @field_validator("headline")
    @classmethod
    def _no_exclamation(cls, value: str) -> str:
        if "!" in value:
            raise ValueError("a press headline states a fact; no '!'")
        return value


Deliverable = Annotated[
    NewsletterDeliverable | SocialDeliverable | PressReleaseDeliverable,
    Field(discriminator="kind"),
]


class Campaign(Strict):
    title: str
    description: str | None = None
    timezone: TimezoneName = "Europe/Berlin"
    period: Period
    targets: Literal["all"] | list[Slug] | Selector = "all"
    review: Literal["auto", "approval"] = "auto"
    utm: bool = True
    milestones: dict[str, datetime] = {}
    calendar: list[CalendarEntry] = []
    deliverables: list[Deliverable]


# --- depesche.toml ------------------------------------------------------------------------------


class WorkspaceSection(Strict):
    name: str
    timezone: TimezoneName = "Europe/Berlin"
    locale: str = "de_DE"


class DemoSection(Strict):
    """The fixed window ``depesche demo`` replays, so its output never changes as time passes."""

    start: datetime
    end: datetime
    ingest_at: datetime


class FetchSection(Strict):
    timeout: float = 10.0
    max_bytes: int = 5 * 1024 * 1024


class WorkspaceConfig(Strict):
    workspace: WorkspaceSection
    demo: DemoSection | None = None
    fetch: FetchSection = FetchSection()
    settings: dict[str, str] = {}
