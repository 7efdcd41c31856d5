"""Register the accounts, classes and history routers (pages and API) on the app."""

from __future__ import annotations

from fastapi import Depends, FastAPI

from app.http.deps import refuse_nul_text


def include_account_routes(app: FastAPI) -> None:
    """Add sign-up/in/out, account, admin, classes, assignments and history routes."""
    from app.accounts.router import router as accounts_api
    from app.classes.router import router as classes_api
    from app.history.router import router as history_api
    from app.web import accounts, classes, history, presets

    for router in (
        accounts_api,
        classes_api,
        history_api,
        accounts.router,
        classes.router,
        history.router,
        presets.router,
    ):
        app.include_router(router, dependencies=[Depends(refuse_nul_text)])
