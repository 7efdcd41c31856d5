"""A partial audit where pip-audit cannot run: the installed releases that are PyPI's latest.

PyPI's project JSON (``/pypi/NAME/json``) lists the known vulnerabilities of the project's
latest release only. Where the per-release JSON (``/pypi/NAME/VERSION/json``, what pip-audit
reads) and OSV cannot be reached but that one can, this checks every installed distribution
whose version is the latest, and names those it could not check (an older pin, no answer).
Exit 1 when a checked release has a vulnerability not in ops/audit-ignore.txt.

    .venv/bin/python ops/audit_latest.py
"""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SKIP = {"mastering-trainer"}  # the project itself: not on PyPI


def installed() -> dict[str, str]:
    """Installed distributions, normalised name -> version."""
    found = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"].lower().replace("_", "-").replace(".", "-")
        if name not in SKIP:
            found[name] = dist.version
    return found


def ignored() -> set[str]:
    lines = (ROOT / "ops/audit-ignore.txt").read_text().splitlines()
    return {line.split()[0] for line in lines if line.strip() and not line.startswith("#")}


def latest(name: str) -> tuple[str, list[dict[str, object]]] | None:
    """(latest version, its vulnerabilities) from PyPI, or None without an answer."""
    try:
        with urllib.request.urlopen(f"https://pypi.org/pypi/{name}/json", timeout=30) as answer:
            data = json.load(answer)
    except (OSError, urllib.error.URLError, ValueError):
        return None
    return data["info"]["version"], data.get("vulnerabilities") or []


def main() -> int:
    versions = installed()
    with ThreadPoolExecutor(8) as threads:
        answers = dict(zip(versions, threads.map(latest, versions), strict=True))
    accepted = ignored()
    checked, older, unanswered, found = [], [], [], []
    for name, version in sorted(versions.items()):
        answer = answers[name]
        if answer is None:
            unanswered.append(name)
        elif answer[0] != version:
            older.append(f"{name} {version} (latest {answer[0]})")
        else:
            checked.append(name)
            for vulnerability in answer[1]:
                ids = {str(vulnerability["id"]), *map(str, vulnerability.get("aliases") or [])}
                if not ids & accepted:
                    found.append(f"{name} {version}: {vulnerability['id']} fixed in "
                                 f"{vulnerability.get('fixed_in') or 'no release'}")  # fmt: skip
    print(f"partial audit (PyPI's latest-release data): {len(checked)} of {len(versions)} "
          f"installed releases checked, {len(found)} vulnerabilities not accepted")  # fmt: skip
    print(f"not checked, older than the latest release ({len(older)}): {', '.join(older)}")
    if unanswered:
        print(f"not checked, no answer from PyPI ({len(unanswered)}): {', '.join(unanswered)}")
    for line in found:
        print(f"VULNERABLE {line}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
