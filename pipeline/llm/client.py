"""The one place an OpenAI client is made, for online calls and the Batch API alike.

The SDK's own retries are off in both: our retry policy (retry.py) decides, so every 429,
timeout and 5xx is counted and shown, and a silent server ends the job instead of
being retried out of sight.
"""

from __future__ import annotations

import openai

from .config import LLMSettings

CONNECT_TIMEOUT = 10.0   # seconds to open a connection; the per-request timeout covers the answer


def client_options(settings: LLMSettings) -> dict:
    # the SDK's own Timeout: openai >= 3.63 sends through httpx2, which refuses an httpx.Timeout
    timeout = openai.Timeout(settings.timeout, connect=min(settings.timeout, CONNECT_TIMEOUT))
    return {"api_key": settings.require_key(), "base_url": settings.base_url, "timeout": timeout,
            "max_retries": 0}


def make_async_client(settings: LLMSettings) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(**client_options(settings))


def make_sync_client(settings: LLMSettings) -> openai.OpenAI:
    return openai.OpenAI(**client_options(settings))
