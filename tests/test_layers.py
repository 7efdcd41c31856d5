"""Imports point one way: web -> domain -> ml -> audio, with app/http below the domains."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parents[1] / "app"
DOMAINS = ("accounts", "classes", "history", "rating")


def module_name(path: Path) -> str:
    """The dotted name of a module under app/ (a package's name for its __init__.py)."""
    parts = path.relative_to(APP.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path) -> set[str]:
    """Every app module `path` imports, at any depth of the file (lazy imports count too)."""
    names: set[str] = set()
    package = module_name(path) if path.name == "__init__.py" else module_name(path.parent)
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return {name for name in names if name == "app" or name.startswith("app.")}


def modules(*packages: str) -> list[Path]:
    """The Python files of these packages of app/ (or single modules, by name)."""
    found: list[Path] = []
    for package in packages:
        target = APP / package
        found += sorted(target.rglob("*.py")) if target.is_dir() else [target.with_suffix(".py")]
    return found


def violations(paths: list[Path], *forbidden: str) -> list[str]:
    """`module -> import` for each import of a forbidden package (or module) by these files."""
    return [
        f"{module_name(path)} -> {name}"
        for path in paths
        for name in sorted(imported(path))
        if any(name == f or name.startswith(f"{f}.") for f in forbidden)
    ]


ROUTERS = tuple(f"app.{domain}.router" for domain in DOMAINS)

RULES = [
    pytest.param(["errors"], ("app",), id="errors-imports-nothing-of-the-app"),
    pytest.param(
        ["audio"],
        ("app.ml", "app.training", *(f"app.{d}" for d in DOMAINS), "app.http", "app.web"),
        id="audio-imports-no-layer-above",
    ),
    pytest.param(
        ["ml"],
        ("app.training", *(f"app.{d}" for d in DOMAINS), "app.http", "app.web", "app.db"),
        id="ml-imports-no-layer-above",
    ),
    pytest.param(["http"], ("app.web", "app.main", *ROUTERS), id="http-below-the-routers"),
    pytest.param(
        [*DOMAINS, "training", "http", "observability", "db", "config"],
        ("app.web", "app.main", "app.cli"),
        id="nothing-below-web-imports-web",
    ),
]


@pytest.mark.parametrize(("packages", "forbidden"), RULES)
def test_imports_point_one_way(packages: list[str], forbidden: tuple[str, ...]) -> None:
    found = violations(modules(*packages), *forbidden)
    assert found == [], "\n".join(found)


def test_only_the_domain_services_below_http_are_imported_by_it() -> None:
    """app/http reads accounts (who is calling), the rating pool and progress; no router."""
    names = {name for path in modules("http") for name in imported(path)}
    domains = {".".join(name.split(".")[:3]) for name in names if name.split(".")[1] in DOMAINS}
    assert domains <= {
        "app.accounts.models",
        "app.accounts.service",
        "app.accounts.settings",
        "app.accounts.throttle",
        "app.rating.progress",
        "app.rating.service",
    }, domains


def test_the_checker_sees_a_violation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An upward import, lazy and relative, is reported (the rule can fail)."""
    package = tmp_path / "app" / "audio"
    package.mkdir(parents=True)
    (package / "bad.py").write_text(
        "def f():\n    from ..web import deps\n    import app.rating.service\n"
    )
    monkeypatch.setattr(f"{__name__}.APP", tmp_path / "app")
    found = violations([package / "bad.py"], "app.web", "app.rating")
    assert found == [
        "app.audio.bad -> app.rating.service",
        "app.audio.bad -> app.web",
        "app.audio.bad -> app.web.deps",
    ]


def test_the_service_starts_without_the_training_only_dependencies() -> None:
    """The image installs no dev extra: the app and its CLI import without pedalboard (GPLv3)."""
    import subprocess
    import sys

    blocked = "import sys; sys.modules['pedalboard'] = None; import app.cli, app.main"
    result = subprocess.run(
        [sys.executable, "-c", blocked], capture_output=True, text=True, cwd=APP.parent
    )
    assert result.returncode == 0, result.stderr[-2000:]
