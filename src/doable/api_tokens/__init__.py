"""Personal API tokens: long-lived, scoped bearer tokens a user makes for a script
(docs/api.md, API tokens)."""
