"""Request plumbing every router shares: settings, database session, auth, CSRF, errors.

Below the domains: `app.accounts`, `app.classes`, `app.history`, `app.rating` and `app.web`
import from here; nothing here imports a router or `app.web`.
"""
