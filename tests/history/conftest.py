"""Shared fixtures of the accounts, classes, history and web tests."""

from tests.accounts_support import app, app_settings, client, db, db_url, world  # noqa: F401
