"""The web console at ``/_ecsram/console`` (docs/console.md): pages over the store, and actions
that are requests to the API and the admin endpoints."""
