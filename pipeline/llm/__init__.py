"""Calling LLMs behind any OpenAI-compatible server, for every job that needs it.

Shared by `annotate` and `judge-llm`: a job builds `LLMRequest`s and a validator per
call; this package handles the rest: the call journal (nothing paid for is lost), reuse
of stored answers, concurrency, retries and backoff, cost, the Batch API, and mirroring
the journal into DuckDB's `llm_calls`.
"""

from .cache import CallResult, lookup
from .config import DEFAULT_MODEL, LLMSettings, settings_from_env
from .errors import ConfigError, InvalidAnswer, JobAborted
from .journal import CallJournal, journal_path
from .jsontext import extract_json, extract_object
from .lock import is_locked, job_lock
from .mirror import LLM_CALLS_DDL, mirror_calls
from .pricing import Price, format_usd, price_for
from .request import LLMRequest
from .runner import CallRunner, CallStats
from .templates import PromptTemplate, load_template
from .tokens import TokenCounter, token_counter

__all__ = [
    "CallResult", "lookup", "DEFAULT_MODEL", "LLMSettings", "settings_from_env", "ConfigError", "InvalidAnswer",
    "JobAborted", "CallJournal", "journal_path", "extract_json", "extract_object", "is_locked", "job_lock",
    "LLM_CALLS_DDL", "mirror_calls", "Price", "format_usd", "price_for", "LLMRequest", "CallRunner", "CallStats",
    "PromptTemplate", "load_template", "TokenCounter", "token_counter",
]
