"""The wire: parse, authenticate, dispatch, render."""
