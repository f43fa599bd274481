"""Scaffold a new initiative: an entry in initiatives.yaml, an override folder, a checklist.

A new regional alliance should be on board in minutes, and the PR team keeps initiatives.yaml by
hand, with comments. So the entry is appended as text in the file's own list indentation (the
rest of the file is left byte for byte as it was), it is valid per the schema at once, and every
value only the initiative can supply is a placeholder that says so in German: „BITTE AUSFÜLLEN“.
A placeholder that reaches a draft is a visible gap for review, never an invented fact. E-mail
and web addresses are placeholders on example.org, so mail headers built from them stay valid.
If the new entry has any problem, the file is restored and nothing is made.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from campaigns.schema import SLUG_PATTERN
from campaigns.workspace import (
    BUILTIN_TEMPLATES,
    INITIATIVES_FILE,
    TEMPLATES_DIR,
    Problem,
    validate_workspace,
)

PLACEHOLDER = "BITTE AUSFÜLLEN"
LEVELS = ("Land", "Region", "Kommune")
_LIST_ITEM = re.compile(r"^( *)- ", re.M)
_TOP_KEY = re.compile(r"^initiatives:[ \t]*(#.*)?$", re.M)


class ScaffoldError(Exception):
    """The initiative cannot be scaffolded as asked; the message says what to change."""

    def __init__(self, message: str, problems: list[Problem] | None = None) -> None:
        self.problems = problems or []
        super().__init__(message)


@dataclass(frozen=True)
class ChecklistEntry:
    field: str
    german: str
    english: str


@dataclass(frozen=True)
class Scaffolded:
    slug: str
    initiatives_file: Path
    first_line: int
    created: tuple[Path, ...]
    checklist: tuple[ChecklistEntry, ...]


def _todo(what: str) -> str:
    return f"{PLACEHOLDER}: {what}"


def _scalar(value: str) -> str:
    """``value`` as a YAML scalar, quoted only when YAML needs it."""
    dumped = yaml.safe_dump(value, allow_unicode=True, width=10_000)
    return dumped.removesuffix("\n").removesuffix("\n...")


def default_region(slug: str) -> str:
    """``rhein-neckar`` → ``Rhein-Neckar``: a starting point the checklist asks to check."""
    return "-".join(part.capitalize() for part in slug.split("-"))


def entry_text(slug: str, *, name: str, level: str, region: str, place: str) -> str:
    """The YAML of one initiative as a list item at indentation zero, with German comments."""
    s = _scalar
    host = f"{slug}.example.org"
    return f"""\
- slug: {s(slug)}
  # Angelegt mit `depesche new initiative {slug}`: alle Werte mit „{PLACEHOLDER}“ ersetzen.
  name: {s(name)}
  level: {s(level)}  # Land, Region oder Kommune
  region: {s(region)}
  place: {s(place)}  # Ortsmarke der Pressemitteilungen
  locale: de_DE
  timezone: Europe/Berlin
  tags: []
  interests:
    keywords: {{}}  # z. B. {{Wasserstoff: 3, Maschinenbau: 2}}; ein Wort wiegt 1
    topics: []
    regions:
      - {s(region)}
  feeds: []  # eigene Feeds: in feeds.yaml anlegen und ihre ids hier nennen
  brand:
    color: '#1f2328'  # {PLACEHOLDER}: Markenfarbe als #rrggbb
    # logo: assets/{slug}/logo.svg
    boilerplate: |-
      {_todo("3 bis 6 Zeilen „Über die Initiative“: wer, was, wo, mit wem, Träger.")}
  imprint:
    organisation: {s(_todo("Trägerorganisation"))}
    legal_form: {s(_todo("Rechtsform"))}
    address: {s(_todo("Straße Hausnummer, PLZ Ort"))}
    representative: {s(_todo("Vertretungsberechtigte Person(en)"))}
    email: {s("info@" + host)}  # {PLACEHOLDER}
    phone: {s(_todo("Telefon"))}
    register: {s(_todo("Registergericht und Registernummer"))}
    responsible: {s(_todo("Verantwortlich i. S. d. § 18 Abs. 2 MStV: Name, Anschrift"))}
    privacy_url: {s(f"https://{host}/datenschutz")}  # {PLACEHOLDER}
  press_contact:
    name: {s(_todo("Name"))}
    function: {s(_todo("Funktion"))}
    organisation: {s(_todo("Organisation"))}
    address: {s(_todo("Straße Hausnummer, PLZ Ort"))}
    phone: {s(_todo("Telefon"))}
    email: {s("presse@" + host)}  # {PLACEHOLDER}
  sender:
    name: {s(name)}
    email: {s("newsletter@" + host)}  # {PLACEHOLDER}
    reply_to: {s("redaktion@" + host)}  # {PLACEHOLDER}
"""


def checklist(slug: str) -> tuple[ChecklistEntry, ...]:
    """What the PR team fills in before the initiative's first piece goes out."""
    return (
        ChecklistEntry(
            "name, level, region, place",
            "Name, Ebene, Region und Ortsmarke prüfen",
            "check name, level, region and dateline place",
        ),
        ChecklistEntry(
            "brand.color, brand.boilerplate",
            "Markenfarbe und „Über die …“ (3–6 Zeilen) eintragen",
            "set the brand colour and the 3–6 line boilerplate",
        ),
        ChecklistEntry(
            "brand.logo",
            f"Logo nach assets/{slug}/ legen und brand.logo setzen (optional)",
            f"put the logo into assets/{slug}/ and set brand.logo (optional)",
        ),
        ChecklistEntry(
            "imprint",
            "Impressum nach § 5 DDG und Verantwortliche nach § 18 Abs. 2 MStV",
            "imprint (§ 5 DDG) and the person responsible (§ 18 (2) MStV)",
        ),
        ChecklistEntry(
            "press_contact",
            "Pressekontakt: Name, Funktion, Organisation, Anschrift, Telefon, E-Mail",
            "press contact: name, function, organisation, address, phone, e-mail",
        ),
        ChecklistEntry(
            "sender",
            "Absender und Antwortadresse des Newsletters",
            "newsletter sender and reply-to address",
        ),
        ChecklistEntry(
            "interests",
            "Interessen: Stichwörter mit Gewicht, Themen, Regionen",
            "interests: weighted keywords, topics, regions",
        ),
        ChecklistEntry(
            "feeds",
            "eigene Feeds in feeds.yaml anlegen und hier nennen",
            "add the initiative's own feeds to feeds.yaml and list them here",
        ),
        ChecklistEntry(
            f"templates/{slug}/",
            "Vorlagen nur bei Bedarf überschreiben (siehe README dort)",
            "override templates only where needed (see the README there)",
        ),
        ChecklistEntry(
            "campaigns/*.yaml",
            "Kampagnen prüfen: targets, Zitate (quotes.initiatives) für die Initiative",
            "check campaigns: targets and quotes for the initiative",
        ),
    )


def _readme(slug: str, name: str) -> str:
    builtin = sorted(
        path.relative_to(BUILTIN_TEMPLATES).as_posix()
        for path in BUILTIN_TEMPLATES.rglob("*")
        if path.is_file() and not path.name.startswith((".", "_"))
    )
    listing = "\n".join(f"- `{name}`" for name in builtin)
    return f"""\
# Vorlagen der {name} (`{slug}`)

Eine Vorlage in diesem Ordner ersetzt für diese Initiative die gleichnamige Vorlage aus
`templates/` und die eingebaute Vorlage von Depesche. Der Ordner darf leer bleiben: die
eingebauten Vorlagen sind vollständig.

Überschreibbare Vorlagen:

{listing}

Vorgehen: die eingebaute Vorlage kopieren, hierher legen, anpassen; danach
`depesche validate` und `depesche preview KAMPAGNE DELIVERABLE --initiative {slug}`.
"""


def _assets_readme(slug: str) -> str:
    return f"""\
# Bilder und Logo (`{slug}`)

Logo (z. B. `logo.svg`) und Bilder dieser Initiative gehören hierher. Das Logo wird in
`initiatives.yaml` unter `brand.logo` eingetragen (`assets/{slug}/logo.svg`). Jedes Bild braucht
Bildunterschrift, Bildnachweis („Foto: …“) und Alternativtext, bei abgebildeten Personen deren
Einwilligung.
"""


def _list_indent(text: str) -> str:
    """The indentation of the items under ``initiatives:``, so the entry matches the file."""
    key = _TOP_KEY.search(text)
    if key is None:
        raise ScaffoldError(
            f"{INITIATIVES_FILE} has no block list 'initiatives:'; add the line "
            "'initiatives:' and run again"
        )
    item = _LIST_ITEM.search(text, key.end())
    return item.group(1) if item else "  "


def scaffold_initiative(
    root: Path,
    slug: str,
    *,
    name: str | None = None,
    level: str = "Region",
    region: str | None = None,
    place: str | None = None,
) -> Scaffolded:
    """Append the entry, create ``templates/<slug>/`` and ``assets/<slug>/`` with READMEs."""
    root = Path(root)
    if not re.match(SLUG_PATTERN, slug):
        raise ScaffoldError(f"{slug!r} is not a slug: use lowercase letters, digits and '-'")
    if level not in LEVELS:
        raise ScaffoldError(f"level {level!r} is not one of {', '.join(LEVELS)}")
    path = root / INITIATIVES_FILE
    if not path.is_file():
        raise ScaffoldError(f"{path} not found: is {root} a workspace?")
    original = path.read_bytes()
    text = original.decode("utf-8")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ScaffoldError(f"{path} is not valid YAML; fix it first ({exc})") from None
    entries = data.get("initiatives") if isinstance(data, dict) else None
    if entries is not None and not isinstance(entries, list):
        raise ScaffoldError(f"{path}: 'initiatives' is not a list")
    existing = {e.get("slug") for e in entries or [] if isinstance(e, dict)}
    if slug in existing:
        raise ScaffoldError(f"initiative {slug!r} already exists in {path}")
    if isinstance(entries, list) and not entries and re.search(r"^initiatives:\s*\[", text, re.M):
        raise ScaffoldError(f"{path}: replace 'initiatives: []' by 'initiatives:' and run again")

    region = region or default_region(slug)
    name = name or f"Industrieinitiative {region}"
    indent = _list_indent(text)
    block = entry_text(slug, name=name, level=level, region=region, place=place or region)
    indented = "".join(
        f"{indent}{line}" if line.strip() else line for line in block.splitlines(True)
    )
    prefix = "" if text.endswith("\n") or not text else "\n"
    appended = f"{text}{prefix}\n{indented}"
    first_line = appended[: len(text) + len(prefix) + 1].count("\n") + 1

    path.write_text(appended, encoding="utf-8")
    shown = path.as_posix()
    new = [p for p in validate_workspace(root) if p.path == shown and p.line >= first_line]
    if new:
        path.write_bytes(original)
        raise ScaffoldError("the new entry would not validate; nothing was changed", new)

    created: list[Path] = []
    for folder, readme in (
        (root / TEMPLATES_DIR / slug, _readme(slug, name)),
        (root / "assets" / slug, _assets_readme(slug)),
    ):
        target = folder / "README.md"
        if not target.exists():
            folder.mkdir(parents=True, exist_ok=True)
            target.write_text(readme, encoding="utf-8")
            created.append(target)
    return Scaffolded(slug, path, first_line, tuple(created), checklist(slug))
