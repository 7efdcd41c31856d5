"""Users, roles, passwords, server-side sessions, API tokens and login throttling."""
