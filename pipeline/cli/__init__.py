"""The command line (`python -m pipeline`): `app` is the Typer application, `main` runs it."""

from .main import app, main

__all__ = ["app", "main"]
