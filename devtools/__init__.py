"""Development tools: the mail sink and `make run`'s supervisor (not shipped at runtime)."""
