"""Load a workspace, or say -- file, line and field -- everything that is wrong with it.

The PR team edits these files by hand and finds out about mistakes from ``depesche validate``, so
every problem names the place to fix (``path:line: field.path: message``) and, where it can, what
was meant (``did you mean 'schedule'?``). All files are checked before anything is reported: one
round of fixes should be enough, not one round per file.

Schema checks come from :mod:`campaigns.schema`; the line of each pydantic error is found by
walking the YAML node tree (which keeps source marks) along the error's location. Checks that
need more than one file (a campaign naming an initiative, an initiative naming a feed) run on the
raw data, so they still work when some other part of a file is invalid.
"""

from __future__ import annotations

import difflib
import hashlib
import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from types import UnionType
from typing import Annotated, Any, Literal, TypeVar, Union, get_args, get_origin
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname
from zoneinfo import available_timezones

import yaml
from croniter import croniter
from dateutil.rrule import rrulestr
from PIL import Image, UnidentifiedImageError
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from campaigns.schema import (
    SLUG_MAX,
    SLUG_PATTERN,
    Campaign,
    Feed,
    FeedsFile,
    Hashtag,
    HashtagsFile,
    ImageAsset,
    ImagesFile,
    Initiative,
    InitiativesFile,
    WorkspaceConfig,
)

CONFIG_FILE = "depesche.toml"
INITIATIVES_FILE = "initiatives.yaml"
FEEDS_FILE = "feeds.yaml"
REQUIRED_FILES = (CONFIG_FILE, INITIATIVES_FILE, FEEDS_FILE)
CAMPAIGNS_DIR = "campaigns"
TEMPLATES_DIR = "templates"
# Optional: the canonical hashtag list, and the image assets with their metadata.
HASHTAGS_FILE = "hashtags.yaml"
ASSETS_DIR = "assets"
IMAGES_FILE = f"{ASSETS_DIR}/images.yaml"

# The built-in templates live in the ``content`` package. ``campaigns`` may not import
# ``content`` (see the import-linter layers), so the folder is found beside this package on disk,
# which holds for an editable checkout and for an installed wheel alike. Read at call time:
# the folder may appear after import, and tests may point it elsewhere.
BUILTIN_TEMPLATES = Path(__file__).resolve().parent.parent / "content" / "templates"

_FEED_SCHEMES = ("http", "https", "file")
ModelT = TypeVar("ModelT", bound=BaseModel)
_SLUG = re.compile(SLUG_PATTERN)


# --- public API ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One thing to fix, printed as ``path:line: field.path: message`` (the CLI contract)."""

    path: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.field}: {self.message}"


class WorkspaceInvalid(Exception):
    """Raised by :func:`load_workspace`; carries every problem, not only the first."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))


@dataclass(frozen=True)
class Workspace:
    """A validated workspace. ``revision`` changes whenever any file that shapes output changes,
    so pieces can record which state of the workspace produced them."""

    root: Path
    config: WorkspaceConfig
    initiatives: dict[str, Initiative]
    feeds: dict[str, Feed]
    campaigns: dict[str, Campaign]
    revision: str
    hashtags: tuple[Hashtag, ...] = ()
    images: dict[str, ImageAsset] = field(default_factory=dict)


def load_workspace(root: Path) -> Workspace:
    """Load and validate the workspace at ``root``; raise :class:`WorkspaceInvalid` on any problem.

    Nothing half-valid is returned: the engine should never act on a workspace that
    ``depesche validate`` would reject.
    """
    root = Path(root)
    result = _check(root)
    if result.problems or not (result.config and result.initiatives and result.feeds):
        raise WorkspaceInvalid(result.problems)
    return Workspace(
        root=root,
        config=result.config,
        initiatives={initiative.slug: initiative for initiative in result.initiatives.initiatives},
        feeds={feed.id: feed for feed in result.feeds.feeds},
        campaigns=dict(sorted(result.campaigns.items())),
        revision=workspace_revision(root),
        hashtags=tuple(result.hashtags.hashtags) if result.hashtags else (),
        images={image.id: image for image in result.images.images} if result.images else {},
    )


def validate_workspace(root: Path) -> list[Problem]:
    """Every problem of every file of the workspace, in file order, then line order."""
    return _check(Path(root)).problems


def workspace_revision(root: Path) -> str:
    """sha256 over the relative paths and bytes of every file that shapes the output.

    Paths are hashed too, so renaming a campaign or a template changes the revision; each part is
    length-prefixed so two different workspaces cannot hash the same by shifting bytes around.
    """
    root = Path(root)
    candidates = [root / name for name in REQUIRED_FILES]
    campaigns_dir = root / CAMPAIGNS_DIR
    if campaigns_dir.is_dir():
        candidates.extend(campaigns_dir.glob("*.yaml"))
    templates_dir = root / TEMPLATES_DIR
    if templates_dir.is_dir():
        candidates.extend(templates_dir.rglob("*"))
    candidates.append(root / HASHTAGS_FILE)
    assets_dir = root / ASSETS_DIR
    if assets_dir.is_dir():
        candidates.extend(assets_dir.rglob("*"))
    files = sorted(
        (path.relative_to(root).as_posix(), path) for path in candidates if path.is_file()
    )
    digest = hashlib.sha256()
    for relative, path in files:
        name, content = relative.encode("utf-8"), path.read_bytes()
        digest.update(len(name).to_bytes(8, "big") + name)
        digest.update(len(content).to_bytes(8, "big") + content)
    return digest.hexdigest()


# --- YAML with marks ----------------------------------------------------------------------------


class _Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 booleans: only ``true`` and ``false``.

    YAML 1.1 (PyYAML's default) reads ``on``, ``off``, ``yes`` and ``no`` as booleans, which
    would turn the trigger key ``on: item.published`` into ``True: item.published``.
    """


_BOOL_TAG = "tag:yaml.org,2002:bool"
_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _BOOL_TAG]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    _BOOL_TAG, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)

_NO_KEY = object()


def _key_of(node: yaml.Node) -> Any:
    """The Python value of a mapping key node, or ``_NO_KEY`` when it is not a hashable scalar."""
    if not isinstance(node, yaml.ScalarNode):
        return _NO_KEY
    try:
        value = yaml.constructor.SafeConstructor().construct_object(node, deep=True)
        hash(value)
    except (yaml.YAMLError, TypeError):
        return _NO_KEY
    return value


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


def _yaml_message(exc: yaml.YAMLError) -> str:
    if isinstance(exc, yaml.MarkedYAMLError):
        message = f"YAML syntax error: {exc.problem or exc.context or 'cannot parse'}"
        if exc.context and exc.problem and exc.context_mark is not None:
            message += f" ({exc.context} at line {exc.context_mark.line + 1})"
        return message
    return f"YAML error: {exc}"


# --- documents ----------------------------------------------------------------------------------


@dataclass
class _Walk:
    """Where an error location lands in a document.

    ``path`` holds the parts of the location that exist in the data (what the person wrote);
    ``skips`` the parts pydantic added (union members, validator names) with the depth of
    ``path`` at which each was skipped, which is what union errors are grouped by.
    """

    path: list[Any] = field(default_factory=list)
    skips: list[tuple[int, str]] = field(default_factory=list)
    line: int = 1
    key_line: int = 1


class _Doc:
    """A parsed workspace file: its data and a way from a data path to a line."""

    def __init__(self, shown: str, data: Any) -> None:
        self.shown = shown
        self.data = data
        self.problems: list[Problem] = []

    def walk(self, loc: tuple[int | str, ...]) -> _Walk:
        raise NotImplementedError

    def add(self, path: list[Any], message: str, *, line: int | None = None) -> None:
        """Report a problem at the value found at ``path`` (a path of real keys and indexes)."""
        if line is None:
            line = self.walk(tuple[int | str, ...](path)).line
        self.problems.append(Problem(self.shown, line, _dotted(path), message))


class _YamlDoc(_Doc):
    def __init__(self, shown: str, data: Any, node: yaml.Node | None) -> None:
        super().__init__(shown, data)
        self.node = node

    def walk(self, loc: tuple[int | str, ...]) -> _Walk:
        result = _Walk()
        node, data = self.node, self.data
        if node is not None:
            result.line = result.key_line = _line(node)
        for part in loc:
            step = _yaml_child(node, data, part)
            if step is None:
                result.skips.append((len(result.path), str(part)))
                continue
            key, key_node, node, data = step
            result.path.append(key)
            result.line = _line(node)
            result.key_line = _line(key_node) if key_node is not None else result.line
        return result


def _key_matches(key: Any, part: int | str) -> bool:
    if type(key) is type(part) and key == part:
        return True
    return isinstance(part, str) and (str(key) == part or repr(key) == part)


def _yaml_child(
    node: yaml.Node | None, data: Any, part: int | str
) -> tuple[Any, yaml.Node | None, yaml.Node, Any] | None:
    """One step along a location: a mapping key or a sequence index, if ``part`` is one."""
    if isinstance(node, yaml.MappingNode) and isinstance(data, dict):
        found: tuple[Any, yaml.Node, yaml.Node] | None = None
        for key_node, value_node in node.value:
            key = _key_of(key_node)
            if key is not _NO_KEY and _key_matches(key, part) and key in data:
                found = (key, key_node, value_node)  # the last one wins, as in the data
        if found is not None:
            key, key_node, value_node = found
            return key, key_node, value_node, data[key]
        return None
    if (
        isinstance(node, yaml.SequenceNode)
        and isinstance(data, list)
        and isinstance(part, int)
        and 0 <= part < min(len(node.value), len(data))
    ):
        return part, None, node.value[part], data[part]
    return None


class _TomlDoc(_Doc):
    """depesche.toml: lines are found by scanning for ``[section]`` headers and ``key =`` lines.

    tomllib keeps no positions; the file is small and flat, so a scan is good enough.
    """

    _HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(?:#.*)?$")
    _KEY = re.compile(
        r"""^\s*((?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*'))*)\s*="""
    )

    def __init__(self, shown: str, data: Any, text: str) -> None:
        super().__init__(shown, data)
        self.lines: dict[tuple[str, ...], int] = {}
        section: tuple[str, ...] = ()
        for number, line in enumerate(text.splitlines(), start=1):
            header = self._HEADER.match(line)
            if header:
                section = _toml_key_parts(header.group(1))
                self.lines.setdefault(section, number)
                continue
            key = self._KEY.match(line)
            if key:
                self.lines.setdefault(section + _toml_key_parts(key.group(1)), number)

    def walk(self, loc: tuple[int | str, ...]) -> _Walk:
        result = _Walk()
        data = self.data
        for part in loc:
            in_mapping = isinstance(data, dict) and part in data
            in_list = isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data)
            if in_mapping or in_list:
                result.path.append(part)
                data = data[part]
            else:
                result.skips.append((len(result.path), str(part)))
        keys = tuple(str(part) for part in result.path if isinstance(part, str))
        result.line = result.key_line = self._line_of(keys)
        return result

    def _line_of(self, keys: tuple[str, ...]) -> int:
        for end in range(len(keys), 0, -1):
            if keys[:end] in self.lines:
                return self.lines[keys[:end]]
        return 1


def _toml_key_parts(text: str) -> tuple[str, ...]:
    parts = re.findall(r""""[^"]*"|'[^']*'|[^.\s]+""", text)
    return tuple(part.strip("\"'") for part in parts)


def _dotted(path: list[Any]) -> str:
    return ".".join(str(part) for part in path) or "-"


# --- reading files ------------------------------------------------------------------------------


def _read_text(path: Path, shown: str, problems: list[Problem]) -> str | None:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        problems.append(Problem(shown, 1, "-", f"cannot read file: {exc.strerror or exc}"))
        return None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        problems.append(Problem(shown, line, "-", "file is not UTF-8 encoded text"))
        return None


def _read_yaml(path: Path, shown: str, problems: list[Problem]) -> _YamlDoc | None:
    text = _read_text(path, shown, problems)
    if text is None:
        return None
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        duplicates = list(_duplicate_keys(node, [])) if node is not None else []
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        problems.append(Problem(shown, line, "-", _yaml_message(exc)))
        return None
    except yaml.YAMLError as exc:
        problems.append(Problem(shown, 1, "-", _yaml_message(exc)))
        return None
    finally:
        loader.dispose()
    doc = _YamlDoc(shown, data, node)
    for path_to, line, first, key in duplicates:
        doc.add(
            path_to, f"duplicate key {key!r} (first at line {first}; the last one wins)", line=line
        )
    return doc


def _duplicate_keys(
    node: yaml.Node, path: list[Any], seen_nodes: set[int] | None = None
) -> Iterator[tuple[list[Any], int, int, Any]]:
    """Keys given twice in one mapping: YAML loaders silently keep the last, hiding a typo.

    Runs on the composed tree, before merge keys (``<<``) are flattened into their mappings, so
    a key that overrides a merged one is not reported. An anchored node is visited once, which
    also keeps a recursive alias from recursing forever.
    """
    seen_nodes = set() if seen_nodes is None else seen_nodes
    if id(node) in seen_nodes:
        return
    seen_nodes.add(id(node))
    if isinstance(node, yaml.MappingNode):
        first: dict[Any, int] = {}
        for key_node, value_node in node.value:
            key = _key_of(key_node)
            if key is _NO_KEY or key_node.tag == "tag:yaml.org,2002:merge":
                continue
            if key in first:
                yield [*path, key], _line(key_node), first[key], key
            else:
                first[key] = _line(key_node)
            yield from _duplicate_keys(value_node, [*path, key], seen_nodes)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield from _duplicate_keys(item, [*path, index], seen_nodes)


def _read_toml(path: Path, shown: str, problems: list[Problem]) -> _TomlDoc | None:
    text = _read_text(path, shown, problems)
    if text is None:
        return None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        line = 1
        at = re.search(r"\s*\(at line (\d+), column \d+\)\s*$", message)
        if at:
            line, message = int(at.group(1)), message[: at.start()]
        elif message.endswith("(at end of document)"):
            line = max(1, len(text.splitlines()))
            message = message.removesuffix("(at end of document)").rstrip()
        problems.append(Problem(shown, line, "-", f"TOML syntax error: {message}"))
        return None
    return _TomlDoc(shown, data, text)


# --- schema errors ------------------------------------------------------------------------------

# Errors that only say "this value has the wrong shape for this union member". When another member
# of the same union got further (its errors lie deeper), these are noise.
_SHAPE_TYPES = frozenset({"literal_error", "is_instance_of", "enum"})


def _is_shape_error(kind: str) -> bool:
    return kind in _SHAPE_TYPES or kind.endswith(("_type", "_parsing"))


def _validate_model(model: type[ModelT], doc: _Doc) -> ModelT | None:
    """Validate ``doc`` against ``model``; on failure add one problem per error to ``doc``."""
    if doc.data is None:
        doc.problems.append(Problem(doc.shown, 1, "-", "file is empty"))
        return None
    try:
        return model.model_validate(doc.data)
    except ValidationError as exc:
        errors = [(error, doc.walk(error["loc"])) for error in exc.errors()]
    for error, walk in _prune_unions(errors):
        path, line, message = _describe(model, error, walk, doc)
        doc.problems.append(Problem(doc.shown, line, _dotted(path), message))
    return None


def _prune_unions(errors: list[tuple[ErrorDetails, _Walk]]) -> list[tuple[ErrorDetails, _Walk]]:
    """Keep the errors of the union member the person evidently meant.

    pydantic reports every member of a failed union (``targets: [Bad Slug]`` fails as the
    literal ``'all'``, as a list and as a selector). Members that only say "wrong shape" are
    dropped when another member got further; when none did, they merge into one problem.
    """

    def members(error: ErrorDetails, walk: _Walk) -> list[tuple[tuple[Any, ...], str]]:
        skips = walk.skips
        if error["type"] == "missing" and skips:
            skips = skips[:-1]  # the name of the missing key, not a union member
        return [(tuple(walk.path[:depth]), part) for depth, part in skips]

    unions: dict[tuple[Any, ...], set[str]] = {}
    for error, walk in errors:
        for where, part in members(error, walk):
            unions.setdefault(where, set()).add(part)
    kept = list(errors)
    for where in sorted((w for w, parts in unions.items() if len(parts) > 1), key=len):
        branches: dict[str, list[tuple[ErrorDetails, _Walk]]] = {}
        for item in kept:
            member = next((part for at, part in members(*item) if at == where), None)
            if member is not None:
                branches.setdefault(member, []).append(item)
        if len(branches) < 2:
            continue
        deep = [
            member
            for member, items in branches.items()
            if not all(
                _is_shape_error(error["type"]) and len(walk.path) == len(where)
                for error, walk in items
            )
        ]
        in_union = [item for items in branches.values() for item in items]
        kept = [item for item in kept if not any(item is other for other in in_union)]
        if deep:
            kept.extend(item for member in deep for item in branches[member])
            continue
        first_error, first_walk = in_union[0]
        merged: ErrorDetails = {
            "type": "union_mismatch",
            "loc": first_error["loc"],
            "msg": _union_message([error for error, _ in in_union]),
            "input": first_error["input"],
        }
        kept.append((merged, first_walk))
    order = {id(error): index for index, (error, _) in enumerate(errors)}
    return sorted(kept, key=lambda item: order.get(id(item[0]), len(order)))


def _union_message(errors: list[ErrorDetails]) -> str:
    options: list[str] = []
    for error in errors:
        if error["type"] in ("model_type", "model_attributes_type", "dict_type"):
            option = "a mapping"
        else:
            option = error["msg"].removeprefix("Input should be ").split(", ")[0]
        if option not in options:
            options.append(option)
    return "expected " + " or ".join(options) + _got(errors[0].get("input"))


def _got(value: Any) -> str:
    if isinstance(value, str):
        shown = value if len(value) <= 60 else value[:57] + "..."
        return f" (got {shown!r})"
    if isinstance(value, bool | int | float) or hasattr(value, "isoformat"):
        return f" (got {value})"
    return ""


def _describe(
    model: type[BaseModel], error: ErrorDetails, walk: _Walk, doc: _Doc
) -> tuple[list[Any], int, str]:
    """The field path, line and message a person needs for one pydantic error."""
    kind, loc, path = error["type"], error["loc"], list(walk.path)
    ctx = error.get("ctx") or {}
    if kind == "extra_forbidden":
        key = path[-1] if path else loc[-1]
        allowed = _allowed_fields(model, loc[:-1])
        return path, walk.key_line, _unknown("key", key, allowed)
    if kind == "missing":
        return [*path, loc[-1]], walk.line, f"missing required key {str(loc[-1])!r}"
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        discriminator = str(ctx.get("discriminator", "kind")).strip("'\"")
        tags = re.findall(r"'([^']*)'", str(ctx.get("expected_tags", "")))
        tags = tags or _discriminator_tags(model, loc, discriminator)
        if kind == "union_tag_not_found":
            return (
                [*path, discriminator],
                walk.line,
                f"missing key {discriminator!r} (one of: {', '.join(tags)})",
            )
        line = doc.walk((*loc, discriminator)).line
        return [*path, discriminator], line, _unknown(discriminator, ctx.get("tag"), tags)
    if kind == "union_mismatch":
        return path, walk.line, error["msg"]
    if kind in ("model_type", "dict_type") and not path:
        keys = ", ".join(_allowed_fields(model, ()))
        return path, walk.line, f"expected a mapping of keys at the top of the file ({keys})"
    if "[key]" in (str(part) for part in loc):
        return path, walk.key_line, f"{error['msg']} (in a key){_got(error.get('input'))}"
    if kind in ("value_error", "assertion_error"):
        message = error["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
        if message.startswith("unknown timezone") and isinstance(error.get("input"), str):
            close = difflib.get_close_matches(error["input"], sorted(available_timezones()), n=1)
            if close:
                message += f" (did you mean {close[0]!r}?)"
        return path, walk.line, message
    if kind == "string_pattern_mismatch" and ctx.get("pattern") == SLUG_PATTERN:
        message = (
            f"{error.get('input')!r} is not a slug (lowercase letters, digits and '-', "
            f"starting with a letter or digit, at most {SLUG_MAX} characters)"
        )
        return path, walk.line, message
    return path, walk.line, error["msg"] + _got(error.get("input"))


def _unknown(what: str, value: Any, allowed: list[str]) -> str:
    shown = repr(value) if isinstance(value, str) else str(value)
    close = difflib.get_close_matches(str(value), allowed, n=1, cutoff=0.6)
    if close:
        return f"unknown {what} {shown} (did you mean {close[0]!r}?)"
    if allowed:
        listed = ", ".join(allowed[:15]) + (", ..." if len(allowed) > 15 else "")
        label = "allowed" if what == "key" else "one of"
        return f"unknown {what} {shown} ({label}: {listed})"
    return f"unknown {what} {shown}"


# --- walking the schema along an error location -------------------------------------------------


def _expand(annotation: Any) -> list[Any]:
    """The concrete types an annotation may hold: Annotated unwrapped, unions split."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _expand(get_args(annotation)[0])
    if origin is Union or origin is UnionType:
        return [member for arg in get_args(annotation) for member in _expand(arg)]
    return [annotation]


def _is_model(candidate: Any) -> bool:
    return isinstance(candidate, type) and issubclass(candidate, BaseModel)


def _tags_of(model: type[BaseModel]) -> dict[str, str]:
    """Fields fixed to one literal value (a discriminator such as ``kind: newsletter``)."""
    tags = {}
    for name, info in model.model_fields.items():
        if get_origin(info.annotation) is Literal:
            values = get_args(info.annotation)
            if len(values) == 1 and isinstance(values[0], str):
                tags[name] = values[0]
    return tags


def _models_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> list[Any]:
    """The schema types at ``loc``, following fields, list items, dict values and union tags."""
    candidates: list[Any] = [model]
    for part in loc:
        members = [
            candidate
            for candidate in candidates
            if _is_model(candidate)
            and (part == candidate.__name__ or part in _tags_of(candidate).values())
        ]
        if members:
            candidates = members
            continue
        following: list[Any] = []
        for candidate in candidates:
            origin = get_origin(candidate)
            if _is_model(candidate) and isinstance(part, str) and part in candidate.model_fields:
                following.extend(_expand(candidate.model_fields[part].annotation))
            elif origin is list and isinstance(part, int):
                following.extend(_expand(get_args(candidate)[0]))
            elif origin is dict:
                following.extend(_expand(get_args(candidate)[1]))
        candidates = following or candidates
    return candidates


def _allowed_fields(model: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    allowed: list[str] = []
    for candidate in _models_at(model, loc):
        if _is_model(candidate):
            allowed.extend(name for name in candidate.model_fields if name not in allowed)
    return allowed


def _discriminator_tags(
    model: type[BaseModel], loc: tuple[int | str, ...], discriminator: str
) -> list[str]:
    tags: list[str] = []
    for candidate in _models_at(model, (*loc, "\0")):
        if _is_model(candidate):
            tag = _tags_of(candidate).get(discriminator)
            if tag is not None and tag not in tags:
                tags.append(tag)
    return tags


# --- the whole workspace ------------------------------------------------------------------------


@dataclass
class _Result:
    problems: list[Problem] = field(default_factory=list)
    config: WorkspaceConfig | None = None
    initiatives: InitiativesFile | None = None
    feeds: FeedsFile | None = None
    campaigns: dict[str, Campaign] = field(default_factory=dict)
    hashtags: HashtagsFile | None = None
    images: ImagesFile | None = None


def _check(root: Path) -> _Result:
    result = _Result()
    if not root.is_dir():
        result.problems.append(Problem(root.as_posix(), 1, "-", "workspace folder not found"))
        return result

    def shown(relative: str) -> str:
        return (root / relative).as_posix()

    file_problems: dict[str, list[Problem]] = {}
    docs: dict[str, _Doc | None] = {}
    for name in REQUIRED_FILES:
        problems = file_problems.setdefault(name, [])
        path = root / name
        if not path.is_file():
            message = f"missing required file (a workspace holds {', '.join(REQUIRED_FILES)})"
            problems.append(Problem(shown(name), 1, "-", message))
            docs[name] = None
            continue
        reader = _read_toml if name == CONFIG_FILE else _read_yaml
        docs[name] = reader(path, shown(name), problems)

    campaign_docs: dict[str, _Doc | None] = {}
    campaigns_dir = root / CAMPAIGNS_DIR
    if campaigns_dir.is_dir():
        for path in sorted(campaigns_dir.iterdir()):
            relative = f"{CAMPAIGNS_DIR}/{path.name}"
            problems = file_problems.setdefault(relative, [])
            if path.suffix == ".yml" and path.is_file():
                message = (
                    f"campaign files end in .yaml; rename to {path.stem}.yaml or it is ignored"
                )
                problems.append(Problem(shown(relative), 1, "-", message))
                continue
            if path.suffix != ".yaml" or not path.is_file():
                continue
            if not _SLUG.match(path.stem):
                message = (
                    f"campaign name {path.stem!r} (the file name) is not a slug: "
                    f"use lowercase letters, digits and '-', at most {SLUG_MAX} characters"
                )
                problems.append(Problem(shown(relative), 1, "-", message))
            campaign_docs[path.stem] = _read_yaml(path, shown(relative), problems)

    config_doc, initiatives_doc, feeds_doc = (docs[name] for name in REQUIRED_FILES)
    if config_doc is not None:
        result.config = _validate_model(WorkspaceConfig, config_doc)
    if initiatives_doc is not None:
        result.initiatives = _validate_model(InitiativesFile, initiatives_doc)
    if feeds_doc is not None:
        result.feeds = _validate_model(FeedsFile, feeds_doc)
    for name, doc in campaign_docs.items():
        if doc is not None:
            campaign = _validate_model(Campaign, doc)
            if campaign is not None:
                result.campaigns[name] = campaign

    known = _Known.collect(initiatives_doc, feeds_doc)
    if initiatives_doc is not None:
        _check_initiatives(initiatives_doc, known)
    if feeds_doc is not None:
        _check_feeds(feeds_doc, root)
    for doc in campaign_docs.values():
        if doc is not None:
            _check_campaign(doc, known, root)
    _check_social_assets(root, result, known, campaign_docs, file_problems)
    if result.config is not None:
        for name, campaign in result.campaigns.items():
            doc = campaign_docs[name]
            if doc is not None:
                _check_reviewers(doc, campaign, result.config)

    for relative, doc in [
        *docs.items(),
        *((f"{CAMPAIGNS_DIR}/{name}.yaml", doc) for name, doc in campaign_docs.items()),
    ]:
        if doc is not None:
            file_problems.setdefault(relative, []).extend(doc.problems)
    for problems in file_problems.values():
        result.problems.extend(sorted(problems, key=lambda problem: problem.line))
    return result


# --- cross-file checks (on raw data, so they run even when other parts are invalid) -------------


def _entries(data: Any, key: str) -> Iterator[tuple[int, dict[Any, Any]]]:
    """The mapping entries of the list under ``key``; anything else is the schema's to report."""
    items = data.get(key) if isinstance(data, dict) else None
    if isinstance(items, list):
        for index, item in enumerate(items):
            if isinstance(item, dict):
                yield index, item


def _strings(value: Any) -> Iterator[tuple[int, str]]:
    if isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, str):
                yield index, item


@dataclass
class _Known:
    """Names other files may refer to; ``None`` when their file could not be read at all, so a
    broken feeds.yaml does not also flag every feed reference as unknown."""

    slugs: list[str] | None
    tags: set[str] | None
    feeds: list[str] | None

    @classmethod
    def collect(cls, initiatives: _Doc | None, feeds: _Doc | None) -> _Known:
        slugs: list[str] | None = None
        tags: set[str] | None = None
        feed_ids: list[str] | None = None
        if initiatives is not None and isinstance(initiatives.data, dict):
            slugs, tags = [], set()
            for _, entry in _entries(initiatives.data, "initiatives"):
                if isinstance(entry.get("slug"), str):
                    slugs.append(entry["slug"])
                tags.update(tag for _, tag in _strings(entry.get("tags")))
        if feeds is not None and isinstance(feeds.data, dict):
            feed_ids = [
                entry["id"]
                for _, entry in _entries(feeds.data, "feeds")
                if isinstance(entry.get("id"), str)
            ]
        return cls(slugs, tags, feed_ids)


def _check_unique(doc: _Doc, list_key: str, id_key: str, what: str) -> None:
    first: dict[str, int] = {}
    for index, entry in _entries(doc.data, list_key):
        value = entry.get(id_key)
        if not isinstance(value, str):
            continue
        path: list[Any] = [list_key, index, id_key]
        line = doc.walk(tuple(path)).line
        if value in first:
            doc.add(path, f"duplicate {what} {value!r} (first at line {first[value]})", line=line)
        else:
            first[value] = line


def _check_refs(doc: _Doc, path: list[Any], value: Any, known: list[str] | None, what: str) -> None:
    """Every name in the list at ``path`` must be one of ``known``."""
    if known is None:
        return
    for index, name in _strings(value):
        if name not in known:
            doc.add([*path, index], _unknown(what, name, sorted(set(known))))


def _check_initiatives(doc: _Doc, known: _Known) -> None:
    _check_unique(doc, "initiatives", "slug", "slug")
    for index, entry in _entries(doc.data, "initiatives"):
        _check_refs(doc, ["initiatives", index, "feeds"], entry.get("feeds"), known.feeds, "feed")


def _check_feeds(doc: _Doc, root: Path) -> None:
    _check_unique(doc, "feeds", "id", "feed id")
    for index, entry in _entries(doc.data, "feeds"):
        url = entry.get("url")
        if isinstance(url, str):
            message = _feed_url_problem(url, root)
            if message:
                doc.add(["feeds", index, "url"], message)


def _feed_url_problem(url: str, root: Path) -> str | None:
    """Mirror what the fetcher accepts: http(s), absolute file:// URLs, paths in the workspace."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme in ("http", "https"):
        return None if parts.netloc else f"URL {url!r} has no host"
    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            return f"file URLs on other hosts are not supported: {url!r}"
        path = Path(url2pathname(unquote(parts.path)))
        if not path.is_absolute():
            return "a file: URL needs an absolute path; write a relative path without 'file:'"
        return None if path.is_file() else f"feed file not found: {path.as_posix()}"
    if scheme and not re.fullmatch(r"[a-z]", scheme):  # a one-letter scheme is a Windows drive
        hint = difflib.get_close_matches(scheme, _FEED_SCHEMES, n=1)
        suggestion = f"did you mean {hint[0]!r}? " if hint else ""
        return (
            f"unsupported URL scheme {scheme!r} ({suggestion}use http, https, file or a path "
            "relative to the workspace)"
        )
    path = root / url
    if path.is_file():
        return None
    message = f"feed file not found: {path.as_posix()}"
    if "." in url.split("/")[0] and not (root / url.split("/")[0]).exists():
        message += " (a web address needs https://)"
    return message


def _check_campaign(doc: _Doc, known: _Known, root: Path) -> None:
    data = doc.data
    if not isinstance(data, dict):
        return
    targets = data.get("targets")
    if isinstance(targets, list) and known.slugs is not None:
        for index, slug in _strings(targets):
            if _SLUG.match(slug) and slug not in known.slugs:
                doc.add(["targets", index], _unknown("initiative", slug, sorted(set(known.slugs))))
    elif isinstance(targets, dict) and known.tags is not None:
        for index, tag in _strings(targets.get("tags")):
            if tag not in known.tags:
                doc.add(
                    ["targets", "tags", index],
                    _unknown("tag", tag, sorted(known.tags)).replace(
                        "unknown tag", "no initiative has the tag", 1
                    ),
                )
    milestones = data.get("milestones", {})
    milestone_names = [str(name) for name in milestones] if isinstance(milestones, dict) else None

    _check_unique(doc, "deliverables", "id", "deliverable id")
    for index, entry in _entries(data, "deliverables"):
        here: list[Any] = ["deliverables", index]
        trigger = entry.get("trigger")
        if isinstance(trigger, dict):
            schedule = trigger.get("schedule")
            if isinstance(schedule, str):
                message = _schedule_problem(schedule)
                if message:
                    doc.add([*here, "trigger", "schedule"], message)
            _check_milestone(doc, [*here, "trigger", "at"], trigger.get("at"), milestone_names)
            event_filter = trigger.get("filter")
            if isinstance(event_filter, dict):
                where = [*here, "trigger", "filter"]
                _check_refs(
                    doc,
                    [*where, "initiatives"],
                    event_filter.get("initiatives"),
                    known.slugs,
                    "initiative",
                )
                _check_refs(doc, [*where, "feeds"], event_filter.get("feeds"), known.feeds, "feed")
        _check_milestone(doc, [*here, "embargo"], entry.get("embargo"), milestone_names)
        _check_milestone(doc, [*here, "send_at"], entry.get("send_at"), milestone_names)
        network = entry.get("network")
        if isinstance(network, dict):
            _check_refs(doc, [*here, "network", "feeds"], network.get("feeds"), known.feeds, "feed")
        for number, quote in _entries(entry, "quotes"):
            _check_refs(
                doc,
                [*here, "quotes", number, "initiatives"],
                quote.get("initiatives"),
                known.slugs,
                "initiative",
            )
        template = entry.get("template")
        if isinstance(template, str):
            message = _template_problem(template, root)
            if message:
                doc.add([*here, "template"], message)


def _check_reviewers(doc: _Doc, campaign: Campaign, config: WorkspaceConfig) -> None:
    """A review by the PR team needs their addresses, or nobody would ever be asked."""
    if config.review.network:
        return
    for index, deliverable in enumerate(campaign.deliverables):
        if "network" in campaign.review_levels(deliverable.id):
            own = deliverable.review is not None
            doc.add(
                ["deliverables", index, "review"] if own else ["review"],
                "the PR team (level 'network') must approve, but depesche.toml names no "
                'reviewers: add [review] network = ["presse@..."]',
            )
            if not own:
                return


def _check_milestone(doc: _Doc, path: list[Any], value: Any, names: list[str] | None) -> None:
    if names is None or not isinstance(value, dict):
        return
    milestone = value.get("milestone")
    if isinstance(milestone, str) and milestone not in names:
        message = _unknown("milestone", milestone, names)
        if not names:
            message += " (the campaign declares no milestones:)"
        doc.add([*path, "milestone"], message)


def _schedule_problem(schedule: str) -> str | None:
    """A schedule is a 5-field cron expression or an ``RRULE:`` (RFC 5545) recurrence."""
    text = schedule.strip()
    if text.upper().startswith("RRULE:"):
        error: ValueError | None = None
        # The engine expands rules from a zone-aware start; a naive start is tried as well so
        # that a rule is judged on its own terms, not on how UNTIL relates to the start.
        for start in (datetime(2000, 1, 1, tzinfo=UTC), datetime(2000, 1, 1)):  # noqa: DTZ001
            try:
                rrulestr(text, dtstart=start)
            except (ValueError, TypeError) as exc:
                error = error or ValueError(str(exc))
            else:
                return None
        return f"invalid RRULE: {error}"
    fields = text.split()
    if len(fields) != 5:
        return (
            f"{schedule!r} is neither a cron expression with 5 fields (minute hour day month "
            "weekday) nor an 'RRULE:'"
        )
    if not croniter.is_valid(text):
        return f"{schedule!r} is not a valid cron expression (minute hour day month weekday)"
    return None


def _template_problem(template: str, root: Path) -> str | None:
    """The template must exist where the renderer looks: the workspace's templates/ or the
    built-in ones (an initiative's own override folder refines these, it does not replace them).
    """
    relative = PurePosixPath(template)
    if relative.is_absolute() or ".." in relative.parts or not relative.parts:
        return f"template {template!r} must be a file name inside templates/"
    for folder in (root / TEMPLATES_DIR, BUILTIN_TEMPLATES):
        if folder.is_dir() and (folder / relative).is_file():
            return None
    builtin = sorted(
        path.relative_to(BUILTIN_TEMPLATES).as_posix()
        for path in (BUILTIN_TEMPLATES.rglob("*") if BUILTIN_TEMPLATES.is_dir() else [])
        if path.is_file()
    )
    own = sorted(
        path.relative_to(root / TEMPLATES_DIR).as_posix()
        for path in ((root / TEMPLATES_DIR).rglob("*") if (root / TEMPLATES_DIR).is_dir() else [])
        if path.is_file()
    )
    close = difflib.get_close_matches(template, own + builtin, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return (
        f"template {template!r} not found in {(root / TEMPLATES_DIR).as_posix()}/ "
        f"nor among the built-in templates{hint}"
    )


def _check_social_assets(
    root: Path,
    result: _Result,
    known: _Known,
    campaign_docs: dict[str, _Doc | None],
    file_problems: dict[str, list[Problem]],
) -> None:
    """hashtags.yaml and assets/images.yaml (both optional), and what campaigns take from them.

    A social deliverable's hashtags must come from the one canonical list, and its images from
    the image assets, whose files must exist and be images: a post is published as it is, so a
    misspelt tag or an image without alt text or consent must stop at validation.
    """
    tags: list[str] | None = None
    path = root / HASHTAGS_FILE
    if path.is_file():
        problems = file_problems.setdefault(HASHTAGS_FILE, [])
        doc = _read_yaml(path, path.as_posix(), problems)
        if doc is not None:
            result.hashtags = _validate_model(HashtagsFile, doc)
            _check_unique(doc, "hashtags", "tag", "hashtag")
            tags = [str(entry.get("tag")) for _, entry in _entries(doc.data, "hashtags")]
            problems.extend(doc.problems)
    image_ids: list[str] | None = None
    path = root / IMAGES_FILE
    if path.is_file():
        problems = file_problems.setdefault(IMAGES_FILE, [])
        doc = _read_yaml(path, path.as_posix(), problems)
        if doc is not None:
            result.images = _validate_model(ImagesFile, doc)
            _check_unique(doc, "images", "id", "image id")
            image_ids = [str(entry.get("id")) for _, entry in _entries(doc.data, "images")]
            for index, entry in _entries(doc.data, "images"):
                here: list[Any] = ["images", index]
                _check_refs(
                    doc, [*here, "initiatives"], entry.get("initiatives"), known.slugs, "initiative"
                )
                if isinstance(entry.get("file"), str):
                    message = _image_file_problem(root / ASSETS_DIR, entry["file"])
                    if message:
                        doc.add([*here, "file"], message)
            problems.extend(doc.problems)
    for campaign_doc in campaign_docs.values():
        if campaign_doc is not None:
            _check_social_refs(campaign_doc, tags, image_ids)


def _check_social_refs(doc: _Doc, tags: list[str] | None, image_ids: list[str] | None) -> None:
    """A social deliverable's hashtags come from the canonical list; its images, and a press
    release's, from the assets."""
    where = f"{HASHTAGS_FILE} (the canonical list)"
    for index, entry in _entries(doc.data, "deliverables"):
        here: list[Any] = ["deliverables", index]
        if entry.get("kind") == "press_release":
            image = entry.get("image")
            if isinstance(image, str) and image not in (image_ids or []):
                doc.add([*here, "image"], _unknown("image", image, sorted(set(image_ids or []))))
            if entry.get("images"):
                _check_refs(doc, [*here, "images"], entry.get("images"), image_ids or [], "image")
        if entry.get("kind") != "social":
            continue
        for number, tag in _strings(entry.get("hashtags")):
            if tags is None:
                doc.add([*here, "hashtags", number], f"hashtag {tag!r}: {where} is missing")
            elif tag not in tags:
                doc.add([*here, "hashtags", number], f"{_unknown('hashtag', tag, tags)} in {where}")
        if entry.get("images"):
            _check_refs(doc, [*here, "images"], entry.get("images"), image_ids or [], "image")


def _image_file_problem(assets: Path, name: str) -> str | None:
    """The file must lie inside assets/ and be a PNG or JPEG image Pillow can read."""
    relative = PurePosixPath(name)
    if relative.is_absolute() or ".." in relative.parts or not relative.parts:
        return f"image file {name!r} must be a path inside {ASSETS_DIR}/"
    path = assets / relative
    if not path.is_file():
        return f"image file not found: {path.as_posix()}"
    try:
        with Image.open(path) as image:
            kind = image.format
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        return f"{path.as_posix()} is not a readable image: {exc}"
    if kind not in ("PNG", "JPEG"):
        return f"{path.as_posix()} is {kind}; use PNG or JPEG, which every channel accepts"
    return None
