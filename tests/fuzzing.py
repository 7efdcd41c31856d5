"""schemathesis, one pytest test per API operation.

schemathesis' own `schema.parametrize()` gives every operation of a module the same test id,
so `pytest -n 2 --dist loadfile` ran only the first. Here each operation is an ordinary
parametrised test (`METHOD /path` in its id) and builds its app, database and schema inside
the test, from its own `tmp_path`: nothing is built at import or collection time.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.generation.modes import GenerationMode

#: Examples per fuzzed property (`make fuzz` runs more).
FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))


def fuzz_settings(*suppressed: HealthCheck) -> Any:
    """Bounded hypothesis settings that draw the same examples in every run (CI reproducible)."""
    return settings(
        max_examples=FUZZ_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, *suppressed],
    )


HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


def operations(*, path_regex: str = "") -> list[Any]:
    """`pytest.param(method, path)` for every operation of the app's OpenAPI whose path matches.

    Read from `app.main.app`, the app that module builds on import anyway; every app
    `create_app` builds has the same routes.
    """
    from app.main import app

    return [
        pytest.param(method.upper(), path, id=f"{method.upper()} {path}")
        for path, item in app.openapi()["paths"].items()
        if re.search(path_regex, path)
        for method in item
        if method in HTTP_METHODS
    ]


def fuzz(
    app: Any,
    *,
    method: str,
    path: str,
    max_examples: int,
    check: Callable[[schemathesis.Case], None],
) -> None:
    """Generate `max_examples` cases (valid and invalid) for one operation; `check` each."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operation = schema[path][method]
    strategy = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    )

    @given(case=strategy)
    @settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: schemathesis.Case) -> None:
        check(case)

    run()
