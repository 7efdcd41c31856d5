"""Register the accounts, classes and history routers (pages and API) on the app."""

from __future__ import annotations

from fastapi import FastAPI


def include_account_routes(app: FastAPI) -> None:
    """Add sign-up/in/out, account, admin, classes, assignments and history routes."""
    from app.accounts.router import router as accounts_api
    from app.classes.router import router as classes_api
    from app.history.router import router as history_api
    from app.web import accounts, classes, history

    for router in (
        accounts_api,
        classes_api,
        history_api,
        accounts.router,
        classes.router,
        history.router,
    ):
        app.include_router(router)
