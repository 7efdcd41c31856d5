"""Pages and htmx partials."""
