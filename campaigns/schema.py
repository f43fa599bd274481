"""The workspace's file formats as pydantic models.

These models are the contract between the PR team's files and the engine: every key a workspace
may use is declared here, and any other key is an error (``extra="forbid"``), so a misspelt
``shedule:`` fails validation instead of silently doing nothing.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

# At most 60 characters, so keys built from several slugs fit their columns on PostgreSQL.
SLUG_MAX = 60
SLUG_PATTERN = rf"^[a-z0-9][a-z0-9-]{{0,{SLUG_MAX - 1}}}$"
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


HttpsOrigin = Annotated[str, Field(pattern=r"^https://[^/\s?#]+/?$")]


class MastodonChannel(Strict):
    """The initiative's Mastodon instance; its own post limit is read from ``/api/v2/instance``.

    Only the address lives in the workspace: access tokens are secrets and belong in the
    deployment's environment, never in files kept in git (unknown keys are errors).
    """

    instance: HttpsOrigin


class BlueskyChannel(Strict):
    """Where Bluesky handles are resolved to DIDs for mention facets (an AppView or PDS)."""

    service: HttpsOrigin = "https://public.api.bsky.app"
    # Where posts go: the account's handle and its PDS. The app password is a secret and comes
    # from DEPESCHE_BLUESKY_PASSWORD_<SLUG> in the environment, never from this file.
    handle: Annotated[str, Field(pattern=r"^[a-zA-Z0-9.-]+\.[a-zA-Z][a-zA-Z0-9-]*$")] | None = None
    pds: HttpsOrigin = "https://bsky.social"


def _webhook_url(value: str) -> str:
    """https anywhere; plain http only to this machine (a receiver in development or tests)."""
    match = re.match(r"^(https?)://(\[[0-9a-fA-F:]+\]|[^/\s?#:]+)(:\d+)?(/[^\s#]*)?$", value)
    if match is None:
        raise ValueError("must be an absolute https:// URL")
    host = match[2].strip("[]")
    if match[1] == "http" and host not in ("localhost", "127.0.0.1", "::1"):
        raise ValueError("must use https:// (plain http only to localhost or 127.0.0.1)")
    return value


class WebhookChannel(Strict):
    """Where the initiative's webhook receives pieces; the signing secret comes from
    DEPESCHE_WEBHOOK_SECRET_<SLUG> in the environment, never from this file."""

    url: Annotated[str, AfterValidator(_webhook_url)]


class Channels(Strict):
    mastodon: MastodonChannel | None = None
    bluesky: BlueskyChannel | None = None
    webhook: WebhookChannel | None = None


def _email_address(value: str) -> str:
    if not re.fullmatch(r"[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+", value):
        raise ValueError(f"{value!r} is not an e-mail address like presse@example.org")
    return value


EmailAddress = Annotated[str, AfterValidator(_email_address)]


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
    channels: Channels = Channels()
    # Who approves the initiative's own edition when a review asks for the level "initiative";
    # without a list, the press contact does.
    reviewers: list[EmailAddress] | None = None

    @property
    def reviewer_addresses(self) -> tuple[str, ...]:
        return tuple(self.reviewers) if self.reviewers else (self.press_contact.email,)


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


# --- hashtags.yaml ------------------------------------------------------------------------------


def _camel_case(value: str) -> str:
    """CamelCase, as screen readers need it: a capital first, letters and digits, not ALL CAPS."""
    if not re.fullmatch(r"[A-ZÄÖÜ][A-Za-zÄÖÜäöüß0-9]*", value):
        raise ValueError(
            f"hashtag {value!r} must be CamelCase without '#': a capital first, then only "
            "letters and digits (e.g. ZukunftDerIndustrie)"
        )
    if len(value) > 3 and not re.search(r"[a-zäöüß]", value):
        raise ValueError(f"hashtag {value!r} is ALL CAPS; write it in CamelCase")
    return value


HashtagName = Annotated[str, AfterValidator(_camel_case)]


class Hashtag(Strict):
    """One hashtag of the workspace's canonical list and the interests it stands for.

    An initiative gets the tag when one of ``matches`` (or the tag itself) is among its
    interest keywords, topics or regions; compared without case, spaces and hyphens.
    """

    tag: HashtagName
    matches: list[str] = []


class HashtagsFile(Strict):
    hashtags: list[Hashtag]


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


class TopicSection(Strict):
    """A newsletter section: the chosen items about its topics (first matching section wins)."""

    title: str
    topics: Annotated[list[str], Field(min_length=1)]


class Selection(Strict):
    """How a newsletter picks items: window, recency half-life, source share cap, sections."""

    lookback: Duration = timedelta(days=7)
    max_items: Annotated[int, Field(ge=1, le=50)] = 8
    half_life: Duration = timedelta(days=4)
    max_source_share: Annotated[float, Field(gt=0, le=1)] = 0.5
    sections: list[TopicSection] = []


class NetworkSection(Strict):
    """„Aus dem Netzwerk“: the best items of the other initiatives' own feeds and partner feeds."""

    title: str = "Aus dem Netzwerk"
    max_items: Annotated[int, Field(ge=1, le=10)] = 3
    feeds: list[str] = []


class Audience(Strict):
    """One audience variant of a newsletter: own intro, weights added to the initiative's."""

    id: Slug
    name: str
    intro: str
    interests: Interests = Interests()


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


ReviewLevel = Literal["network", "initiative"]


class ReviewLevels(Strict):
    """A review in levels, in order: ``network`` (the alliance's PR team), then ``initiative``
    (the initiative approves its own edition). Each level approves once before the next."""

    levels: Annotated[list[ReviewLevel], Field(min_length=1)]

    @field_validator("levels")
    @classmethod
    def _distinct(cls, value: list[ReviewLevel]) -> list[ReviewLevel]:
        if len(value) != len(set(value)):
            raise ValueError("each review level may appear once")
        return value


# ``auto``: approved at composition; ``approval``: the PR team (level ``network``) approves.
ReviewPolicy = Literal["auto", "approval"] | ReviewLevels


def review_levels(policy: ReviewPolicy) -> tuple[ReviewLevel, ...]:
    """The levels that must approve, in order; none for ``auto``."""
    if policy == "auto":
        return ()
    if policy == "approval":
        return ("network",)
    assert isinstance(policy, ReviewLevels)
    return tuple(policy.levels)


class _DeliverableBase(Strict):
    id: Slug
    trigger: Trigger
    template: str | None = None
    channels: list[str] = ["folder"]
    # Overrides the campaign's review policy for this deliverable.
    review: ReviewPolicy | None = None
    # The earliest instant its pieces may go out (default: the slot's due time).
    send_at: datetime | MilestoneRef | None = None


class NewsletterDeliverable(_DeliverableBase):
    kind: Literal["newsletter"]
    subject: str
    preheader: str
    select: Selection = Selection()
    editorials: dict[date, Editorial] = {}
    signature: Signature
    # With nothing relevant: no issue at all, or a short one that says so (never an empty one).
    nothing_new: Literal["skip", "short"] = "skip"
    network: NetworkSection | None = None
    audiences: list[Audience] = []

    @field_validator("audiences")
    @classmethod
    def _unique_audiences(cls, value: list[Audience]) -> list[Audience]:
        ids = [audience.id for audience in value]
        if len(ids) != len(set(ids)):
            raise ValueError("audience ids must be unique within a newsletter")
        return value


class SocialDeliverable(_DeliverableBase):
    kind: Literal["social"]
    platforms: list[Platform] = list(PLATFORMS)
    # Fixed hashtags of the deliverable, first in every post; each must be in hashtags.yaml.
    hashtags: list[HashtagName] = []
    intro: str | None = None
    # A text too long for one post becomes numbered posts instead of being shortened.
    thread: bool = False
    # Ids of images in assets/images.yaml, attached to every platform's post.
    images: list[Slug] = []


class PressReleaseDeliverable(_DeliverableBase):
    kind: Literal["press_release"]
    headline: Annotated[str, Field(max_length=80)]
    subline: str | None = None
    lead: str
    body: list[str]
    quotes: list[Quote] = []
    embargo: datetime | MilestoneRef | None = None
    place: str | None = None
    # Press photos from assets/images.yaml, shown with caption and credit; ``image`` is the
    # spelling for one.
    image: Slug | None = None
    images: list[Slug] = []

    @property
    def image_ids(self) -> list[str]:
        """``image`` first, then ``images``, each once."""
        return list(dict.fromkeys([*([self.image] if self.image else []), *self.images]))

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


class UtmParameters(Strict):
    """UTM values for a campaign's outgoing links; unset values fall back to the defaults."""

    campaign: str | None = None
    source: str | None = None


class Campaign(Strict):
    title: str
    description: str | None = None
    timezone: TimezoneName = "Europe/Berlin"
    period: Period
    targets: Literal["all"] | list[Slug] | Selector = "all"
    review: ReviewPolicy = "auto"
    # Tracking parameters on newsletter and social links; press material never carries them.
    utm: bool | UtmParameters = True
    milestones: dict[str, datetime] = {}
    calendar: list[CalendarEntry] = []
    deliverables: list[Deliverable]

    def review_levels(self, deliverable_id: str) -> tuple[ReviewLevel, ...]:
        """The approval levels of one deliverable: its own policy, else the campaign's."""
        deliverable = next(d for d in self.deliverables if d.id == deliverable_id)
        return review_levels(deliverable.review if deliverable.review is not None else self.review)


# --- assets/images.yaml -------------------------------------------------------------------------


class Consent(Strict):
    """Consent of the people shown (§ 22 KUG): required whenever a person is recognisable."""

    people_shown: bool
    obtained_on: date | None = None
    record: str | None = None  # where the signed consent is filed, e.g. "Einwilligungen/2026-17"

    @model_validator(mode="after")
    def _documented(self) -> Consent:
        if self.people_shown and (self.obtained_on is None or not self.record):
            raise ValueError(
                "people are shown: give consent.obtained_on and consent.record (§ 22 KUG)"
            )
        return self


class ImageAsset(Strict):
    """An image the pieces may use, with what accessibility, copyright and privacy demand."""

    id: Slug
    file: str  # relative to assets/
    alt: Annotated[str, Field(min_length=20, max_length=1000)]
    caption: str
    credit: Annotated[str, Field(pattern=r"^(Foto|Grafik|Illustration|Abbildung): \S")]
    consent: Consent
    initiatives: list[Slug] | None = None  # None: every initiative may use it

    @field_validator("alt")
    @classmethod
    def _describes(cls, value: str) -> str:
        if re.match(r"(?i)(bild|foto|grafik|abbildung) (von|vom|zeigt)\b", value.strip()):
            raise ValueError("alt text describes the content; leave out 'Bild von' and the like")
        return value


class ImagesFile(Strict):
    images: list[ImageAsset]


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
    """``[fetch]``: limits no feed server can lift, and the networks feeds may live in."""

    timeout: Annotated[float, Field(gt=0)] = 10.0
    total_timeout: Annotated[float, Field(gt=0)] = 60.0
    max_bytes: Annotated[int, Field(ge=1)] = 5 * 1024 * 1024
    allow_networks: list[str] = []
    concurrency: Annotated[int, Field(ge=1, le=64)] = 8
    pause_after: Annotated[int, Field(ge=1)] = 10
    max_backoff: Duration = timedelta(days=1)

    @field_validator("allow_networks")
    @classmethod
    def _cidr(cls, value: list[str]) -> list[str]:
        for network in value:
            try:
                ipaddress.ip_network(network, strict=True)
            except ValueError:
                raise ValueError(f"{network!r} is not a network like 127.0.0.1/32") from None
        return value


class ReviewSection(Strict):
    """``[review]``: the alliance's PR team, who approve at level ``network``, and the sender of
    review mails (default: the first of them)."""

    network: list[EmailAddress] = []
    sender: EmailAddress | None = None


class WorkspaceConfig(Strict):
    workspace: WorkspaceSection
    demo: DemoSection | None = None
    review: ReviewSection = ReviewSection()
    fetch: FetchSection = FetchSection()
    settings: dict[str, str] = {}
