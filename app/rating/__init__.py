"""Rating a trainee's master against the professional one: service, API, page and CLI."""
