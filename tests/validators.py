"""Real validators run on a rendered bundle: each file read back by its consumer."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import yaml

from kit_collab.bundle.model import Bundle, Secrets

from .conftest import require_tool


def clean_env(tmp: Path) -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp),
            "XDG_DATA_HOME": str(tmp / "data"), "XDG_CONFIG_HOME": str(tmp / "config")}


def caddy_validate(root: Path) -> subprocess.CompletedProcess[str]:
    caddy = require_tool("caddy")
    return subprocess.run([caddy, "validate", "--config", str(root / "proxy" / "Caddyfile"),
                           "--adapter", "caddyfile"], capture_output=True, text=True,
                          cwd=root, env=clean_env(root.parent), timeout=60)


def _object(text: str) -> dict[str, Any]:
    value = json.loads(text)
    assert isinstance(value, dict), text[:200]
    return value


def caddy_adapt(root: Path) -> dict[str, Any]:
    caddy = require_tool("caddy")
    result = subprocess.run([caddy, "adapt", "--config", str(root / "proxy" / "Caddyfile"),
                             "--adapter", "caddyfile"], capture_output=True, text=True,
                            cwd=root, env=clean_env(root.parent), timeout=60, check=True)
    return _object(result.stdout)


def compose_config(compose_file: Path) -> dict[str, Any]:
    """``docker compose config`` (compose v2): interpolation, env files, includes, schema."""
    compose = require_tool("docker-compose")
    result = subprocess.run([compose, "-f", str(compose_file), "config", "--format", "json"],
                            capture_output=True, text=True, cwd=compose_file.parent,
                            env=clean_env(compose_file.parent), timeout=60)
    assert result.returncode == 0, result.stderr
    return _object(result.stdout)


def php_config(path: Path) -> dict[str, Any]:
    php = require_tool("php")
    code = f"include {json.dumps(str(path))}; echo json_encode($CONFIG);"
    result = subprocess.run([php, "-n", "-r", code], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr + result.stdout
    return _object(result.stdout)


def parse_file(path: Path, fmt: str) -> Any:
    """Parse one rendered file as its consumer would; raise on any error."""
    text = path.read_text(encoding="utf-8")
    if fmt in ("yaml", "compose"):
        return yaml.safe_load(text)
    if fmt == "json":
        return json.loads(text)
    if fmt == "php":
        return php_config(path)
    if fmt == "env":
        return None  # read by compose in compose_config
    return text


def render_to(profile_data: dict[str, Any], out: Path,
              secrets: Secrets | None = None) -> Bundle:
    from kit_collab.bundle.make import make_bundle
    from kit_collab.bundle.secrets import SYSTEM
    from kit_collab.operations.prepare import write_bundle
    from kit_collab.profile.model import Profile
    from kit_collab.recipes.load import load_recipes

    profile = Profile.model_validate(profile_data)
    recipes = load_recipes()
    bundle = make_bundle(profile, recipes, draw=SYSTEM, secrets=secrets).bundle
    write_bundle(bundle, str(out))
    return bundle


def validate_all(bundle: Bundle, out: Path) -> dict[str, Any]:
    """Run every validator on a written bundle; returns parsed content by path."""
    result = caddy_validate(out)
    assert result.returncode == 0, result.stderr
    parsed: dict[str, Any] = {}
    for f in bundle.files:
        parsed[f.path] = parse_file(out / f.path, f.format)
    parsed["compose:proxy"] = compose_config(out / "proxy" / "compose.yaml")
    parsed["compose:commune"] = compose_config(out / bundle.release_dir / "compose.yaml")
    return parsed
