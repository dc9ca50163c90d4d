"""The few ways an LLM call can go wrong, as the rest of the code needs to tell them apart."""

from __future__ import annotations


class InvalidAnswer(ValueError):
    """An answer arrived (and was paid for) but is not usable: not JSON, a field missing, ...

    Raised by a step's validator; the runner records the reason and asks again.
    """


class JobAborted(RuntimeError):
    """Going on is pointless: bad key, unknown model, no quota, or the server does not answer.

    Carries one line meant for the user; everything answered so far stays in the journal.
    """


class ConfigError(ValueError):
    """The LLM settings cannot work (no API key, ...)."""
