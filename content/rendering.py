"""The template environment: lookup order, sandbox, escaping, and errors a person can act on.

Templates are looked up in the initiative's override folder, then the workspace's ``templates/``,
then the built-in ones. Workspace templates and campaign texts are written by people outside the
engine's code, so they render in Jinja's immutable sandbox with ``StrictUndefined``: a typo
is an error naming file and line, never a silently empty sentence in a press release.

The built-in templates are the engine's own code, reviewed and shipped with it; when the lookup
lands on one of them it renders in a plain environment with the same options (and the same
``StrictUndefined``), which spares the sandbox's check on every attribute and call: about a
third of the rendering time of a digest. A built-in template therefore never includes, extends
or imports another template (a test keeps it so), so nothing from a workspace is ever rendered
outside the sandbox.
"""

from __future__ import annotations

import traceback
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import (
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PackageLoader,
    StrictUndefined,
    Template,
    TemplateError,
    TemplateSyntaxError,
    select_autoescape,
)
from jinja2.sandbox import ImmutableSandboxedEnvironment

BUILTIN_TEMPLATES = Path(__file__).resolve().parent / "templates"


class RenderError(Exception):
    """A template failed: names the template file and line, the campaign and the initiative."""

    def __init__(self, template: str, line: int | None, message: str, where: str) -> None:
        self.template, self.line, self.message, self.where = template, line, message, where
        location = f"{template}:{line}" if line else template
        super().__init__(f"{location}: {message} ({where})")


@lru_cache(maxsize=512)
def build_environment(workspace_root: Path, initiative: str) -> ImmutableSandboxedEnvironment:
    """One environment per initiative, so its overrides win over the workspace and built-ins.

    Cached per process: Jinja keeps compiled templates per environment (and checks the files'
    modification times), so a worker compiles each template once instead of once per piece.
    """
    templates = workspace_root / "templates"
    loader = ChoiceLoader(
        [
            FileSystemLoader(str(templates / initiative)),
            FileSystemLoader(str(templates)),
            PackageLoader("content", "templates"),
        ]
    )
    return ImmutableSandboxedEnvironment(loader=loader, **_OPTIONS)


_OPTIONS: dict[str, Any] = {
    "autoescape": select_autoescape(enabled_extensions=("html",), default_for_string=False),
    "undefined": StrictUndefined,
    "trim_blocks": True,
    "lstrip_blocks": True,
    "keep_trailing_newline": True,
}


@lru_cache(maxsize=1)
def builtin_environment() -> Environment:
    """The built-in templates only, outside the sandbox (see the module docstring)."""
    return Environment(loader=FileSystemLoader(str(BUILTIN_TEMPLATES)), **_OPTIONS)


def _trusted(template: Template) -> Template:
    """The built-in twin of ``template`` when the lookup landed on a built-in file."""
    filename = template.filename
    if filename is None or Path(filename).parent != BUILTIN_TEMPLATES:
        return template
    return builtin_environment().get_template(template.name or "")


def _template_line(exc: BaseException, template_name: str) -> int | None:
    """The line in the template where a runtime error happened (Jinja rewrites tracebacks)."""
    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename == template_name:
            line = frame.lineno
    return line


def render_template(
    env: ImmutableSandboxedEnvironment, name: str, context: dict[str, Any], where: str
) -> str:
    try:
        template = _trusted(env.get_template(name))
    except TemplateSyntaxError as exc:
        raise RenderError(exc.filename or name, exc.lineno, exc.message or str(exc), where) from exc
    except TemplateError as exc:
        raise RenderError(name, None, str(exc), where) from exc
    try:
        return template.render(context)
    except TemplateError as exc:
        filename = template.filename or name
        raise RenderError(filename, _template_line(exc, filename), str(exc), where) from exc


@lru_cache(maxsize=4096)
def _compiled_text(env: ImmutableSandboxedEnvironment, source: str) -> Template:
    """Campaign texts repeat for every initiative and slot: compile each once per process."""
    return env.from_string(source)


def render_text(
    env: ImmutableSandboxedEnvironment,
    source: str,
    context: dict[str, Any],
    *,
    origin: str,
    where: str,
) -> str:
    """Render a text from a campaign file (a subject, a headline) in the same sandbox."""
    try:
        return _compiled_text(env, source).render(context)
    except TemplateError as exc:
        line = exc.lineno if isinstance(exc, TemplateSyntaxError) else None
        raise RenderError(origin, line, str(exc), where) from exc
