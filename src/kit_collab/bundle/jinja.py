"""The Jinja side of rendering: a sandboxed, strict environment per recipe, and errors that
name the template and its line."""

from __future__ import annotations

import functools
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from kit_collab import escape
from kit_collab.errors import Problem, RenderError
from kit_collab.i18n import tr
from kit_collab.recipes.load import Recipe

# Names a template sees besides the profile's own top-level keys.
CONTEXT_NAMES = ("hosts", "secrets", "ports", "active", "slug", "proxy_network", "server_root",
                 "proxy_networks", "site_root", "images", "recipe", "item", "volumes_postgres")


def environment(recipe: Recipe) -> SandboxedEnvironment:
    """The recipe's Jinja environment, built once per template folder (it caches compiled
    templates, which is most of the cost of rendering many communes)."""
    return _environment(str(recipe.template_dir))


@functools.lru_cache(maxsize=64)
def _environment(template_dir: str) -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        loader=jinja2.FileSystemLoader(template_dir),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    env.filters.update(escape.FILTERS)
    return env


def _template_line(exc: BaseException, template: str) -> int | None:
    lineno = getattr(exc, "lineno", None)
    if lineno:
        return int(lineno)
    tb = exc.__traceback__
    found = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename.endswith(template):
            found = tb.tb_lineno
        tb = tb.tb_next
    return found


def template_path(recipe: Recipe, template: str) -> str:
    return f"recipes/{recipe.name}/templates/{template}"


def render_error(recipe: Recipe, template: str, detail: str, line: int | None, *,
                 in_template: bool = True) -> RenderError:
    """A RenderError naming the template (and the line when known), with one Problem.
    ``in_template``: the line is the template's (else the rendered file's, said in detail)."""
    where = template_path(recipe, template)
    place = f"{where}:{line}" if line and in_template else where
    message = tr(f"rendu impossible de {place} : {detail}", f"cannot render {place}: {detail}")
    return RenderError(message, [Problem("", message, file=where, line=line)],
                       hint=tr("corrigez le modèle ou la valeur du profil qu'il utilise",
                               "fix the template or the profile value it uses"))


def _jinja_error(recipe: Recipe, template: str, exc: Exception) -> RenderError:
    detail = getattr(exc, "message", None) or str(exc)
    return render_error(recipe, template, detail, _template_line(exc, template))


@functools.lru_cache(maxsize=1024)
def _compiled(env: SandboxedEnvironment, source: str) -> jinja2.Template:
    return env.from_string(source)


def render_string(env: SandboxedEnvironment, recipe: Recipe, source: str, ctx: dict[str, Any],
                  label: str) -> str:
    try:
        return _compiled(env, source).render(ctx)
    except (jinja2.TemplateError, ValueError, TypeError) as exc:
        raise _jinja_error(recipe, label, exc) from None


def render_template(env: SandboxedEnvironment, recipe: Recipe, name: str,
                    ctx: dict[str, Any]) -> str:
    try:
        return env.get_template(name).render(ctx)
    except (jinja2.TemplateError, ValueError, TypeError) as exc:
        raise _jinja_error(recipe, name, exc) from None
