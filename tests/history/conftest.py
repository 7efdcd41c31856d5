"""Shared fixtures of the accounts, classes, history and web tests."""

from tests.accounts_support import (  # noqa: F401
    app,
    app_settings,
    client,
    db,
    db_url,
    schema_template,
    world,
)
