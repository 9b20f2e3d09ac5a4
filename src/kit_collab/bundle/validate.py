"""Rendered files are checked as they are rendered: YAML and JSON parse, a compose file has
only keys the compose specification knows (a bundled list, no download) with the right shape.

A broken file is a RenderError naming the template and the line of the rendered file.
"""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

from kit_collab.bundle.jinja import render_error
from kit_collab.errors import RenderError
from kit_collab.i18n import tr
from kit_collab.recipes.load import Recipe

_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

TOP_LEVEL = frozenset({"version", "name", "include", "services", "networks", "volumes",
                       "configs", "secrets", "models"})
SERVICE_KEYS = frozenset({
    "annotations", "attach", "build", "blkio_config", "cap_add", "cap_drop", "cgroup",
    "cgroup_parent", "command", "configs", "container_name", "cpu_count", "cpu_percent",
    "cpu_period", "cpu_quota", "cpu_rt_period", "cpu_rt_runtime", "cpu_shares", "cpus",
    "cpuset", "credential_spec", "depends_on", "deploy", "develop", "device_cgroup_rules",
    "devices", "dns", "dns_opt", "dns_search", "domainname", "entrypoint", "env_file",
    "environment", "expose", "extends", "external_links", "extra_hosts", "gpus", "group_add",
    "healthcheck", "hostname", "image", "init", "ipc", "isolation", "label_file", "labels",
    "links", "logging", "mac_address", "mem_limit", "mem_reservation", "mem_swappiness",
    "memswap_limit", "models", "network_mode", "networks", "oom_kill_disable",
    "oom_score_adj", "pid", "pids_limit", "platform", "ports", "post_start", "pre_stop",
    "privileged", "profiles", "provider", "pull_policy", "read_only", "restart", "runtime",
    "scale", "secrets", "security_opt", "shm_size", "stdin_open", "stop_grace_period",
    "stop_signal", "storage_opt", "sysctls", "tmpfs", "tty", "ulimits", "use_api_socket",
    "user", "userns_mode", "uts", "volumes", "volumes_from", "working_dir"})
_LISTS = ("cap_add", "cap_drop", "volumes", "ports", "expose", "devices", "security_opt")
_LIST_OR_MAP = ("environment", "labels", "networks", "depends_on", "extra_hosts", "sysctls")
_RESTART = re.compile(r"^(no|always|unless-stopped|on-failure(:\d+)?)$")


def restart_policy(value: Any) -> str:
    """A restart value as compose reads it (YAML 1.2: an unquoted ``no`` is the string)."""
    return "no" if value is False or value is None else str(value)


class _Invalid(Exception):
    def __init__(self, detail: str, line: int | None, kind: str = "compose") -> None:
        super().__init__(detail)
        self.detail = detail
        self.line = line
        self.kind = kind  # what the file is not: YAML, JSON, compose


def parse(recipe: Recipe, template: str, fmt: str, text: str) -> Any:
    """The parsed content of a yaml/compose/json file (None for other formats); a file that
    does not parse, or a compose file outside the specification, is a RenderError."""
    try:
        if fmt == "json":
            return _json(text)
        if fmt not in ("yaml", "compose"):
            return None
        node, data = _yaml(text)
        if fmt == "compose":
            _compose(node, data)
        return data
    except _Invalid as exc:
        raise _error(recipe, template, text, exc) from None


def _error(recipe: Recipe, template: str, text: str, exc: _Invalid) -> RenderError:
    """The error at the template's line when the rendered line can be traced back to one,
    else at the rendered file's line (said so)."""
    mapped = None
    if exc.line:
        try:
            source = recipe.template_text(template)
        except OSError:
            source = ""
        lines = text.splitlines()
        if exc.line <= len(lines):
            mapped = template_line(source, lines[exc.line - 1], exc.line)
    if mapped:
        detail = tr(f"{exc.kind} invalide : {exc.detail}", f"invalid {exc.kind}: {exc.detail}")
        return render_error(recipe, template, detail, mapped)
    line = f", ligne {exc.line} du fichier rendu" if exc.line else ""
    line_en = f", line {exc.line} of the rendered file" if exc.line else ""
    detail = tr(f"{exc.kind} invalide{line} : {exc.detail}",
                f"invalid {exc.kind}{line_en}: {exc.detail}")
    return render_error(recipe, template, detail, exc.line, in_template=False)


_TAG = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}")


def template_line(source: str, rendered: str, near: int) -> int | None:
    """The template line that gave the rendered line ``rendered`` (line ``near`` of the
    output): a line whose literal text matches it, expressions standing for any text; the
    nearest when several do; None when none does (or the line has no literal text)."""
    target = rendered.strip()
    found = []
    for number, line in enumerate(source.splitlines(), 1):
        literal = _TAG.split(line.strip())
        if "{%" in line or len("".join(literal).strip()) < 2:
            continue
        pattern = ".*?".join(re.escape(part) for part in literal)
        if re.fullmatch(pattern, target, flags=re.DOTALL):
            found.append(number)
    return min(found, key=lambda n: (abs(n - near), n)) if found else None


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise _Invalid(getattr(exc, "msg", str(exc)), getattr(exc, "lineno", None),
                       "JSON") from None


def _yaml(text: str) -> tuple[Any, Any]:
    loader = _LOADER(text)
    try:
        node = loader.get_single_node()
        return node, (loader.construct_document(node) if node is not None else None)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        detail = " ".join(str(p) for p in (exc.context, exc.problem) if p)
        raise _Invalid(detail, mark.line + 1 if mark else None, "YAML") from None
    except yaml.YAMLError as exc:
        raise _Invalid(str(exc), None, "YAML") from None
    finally:
        loader.dispose()


def _line(node: Any, key: str | None = None) -> int | None:
    if key is not None and isinstance(node, yaml.MappingNode):
        for k, _v in node.value:
            if getattr(k, "value", None) == key:
                return int(k.start_mark.line) + 1
    return int(node.start_mark.line) + 1 if node is not None else None


def _child(node: Any, key: str) -> Any:
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if getattr(k, "value", None) == key:
                return v
    return None


def _compose(node: Any, data: Any) -> None:
    if not isinstance(data, dict):
        raise _Invalid(tr("le fichier doit être un dictionnaire", "the file must be a mapping"),
                       _line(node))
    for key in data:
        if key not in TOP_LEVEL and not str(key).startswith("x-"):
            raise _Invalid(tr(f"clé « {key} » inconnue de compose",
                              f"key '{key}' unknown to compose"), _line(node, str(key)))
    services = data.get("services") or {}
    if not isinstance(services, dict):
        raise _Invalid(tr("services doit être un dictionnaire", "services must be a mapping"),
                       _line(node, "services"))
    services_node = _child(node, "services")
    for name, service in services.items():
        _service(str(name), service, _child(services_node, str(name)),
                 _line(services_node, str(name)))


def _service(name: str, service: Any, node: Any, name_line: int | None) -> None:
    if not isinstance(service, dict):
        raise _Invalid(tr(f"service {name} : un dictionnaire est attendu",
                          f"service {name}: a mapping is expected"), name_line)
    for key, value in service.items():
        where = _line(node, str(key))
        if key not in SERVICE_KEYS and not str(key).startswith("x-"):
            raise _Invalid(tr(f"service {name} : clé « {key} » inconnue de compose",
                              f"service {name}: key '{key}' unknown to compose"), where)
        if key in _LISTS and not isinstance(value, list):
            raise _Invalid(tr(f"service {name} : {key} doit être une liste",
                              f"service {name}: {key} must be a list"), where)
        if key in _LIST_OR_MAP and not isinstance(value, list | dict):
            raise _Invalid(tr(f"service {name} : {key} doit être une liste ou un dictionnaire",
                              f"service {name}: {key} must be a list or a mapping"), where)
        if key == "restart" and not _RESTART.match(restart_policy(value)):
            raise _Invalid(tr(f"service {name} : restart « {value} » invalide",
                              f"service {name}: invalid restart '{value}'"), where)
    if "image" not in service and "build" not in service:
        raise _Invalid(tr(f"service {name} : ni image ni build", f"service {name}: no image "
                          "nor build"), name_line)
