"""RAM (2015-05-01): roles, users, access keys, policies."""
