"""Features, model registry, recognition of EQ operations and suggestions."""
