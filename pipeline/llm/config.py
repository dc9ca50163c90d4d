"""Settings for talking to an OpenAI-compatible server.

The key and address come from the environment (OPENAI_API_KEY, OPENAI_BASE_URL) or from
a `.env` file in the working directory that the user keeps out of git, as does the
per-request timeout (PREFDISSECT_LLM_TIMEOUT, seconds). The key is kept out of every
repr, log line and journal row; so are credentials written inside the address
(`http://user:pass@host`): `server` and `redact` show them as `***`.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from .errors import ConfigError

DEFAULT_MODEL = "gpt-4-turbo"
DEFAULT_SEED = 20240217  # fixed so that reruns of a failed call are reproducible
ENV_KEYS = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "PREFDISSECT_LLM_TIMEOUT")
_USERINFO = re.compile(r"(?<=://)[^/?#@\s]*@")   # the user:pass@ part of any URL
_SECRET_PARAM = re.compile(r"(?i)([?&](?:api[_-]?key|key|token|access_token|secret|password)=)[^&#\s]*")


def redact(text: str | None) -> str | None:
    """`text` with URL credentials (user:pass@, ?api_key=...) replaced by ***: for every line we print or store."""
    if not text:
        return text
    return _SECRET_PARAM.sub(r"\1***", _USERINFO.sub("***@", text))


@dataclass(frozen=True)
class LLMSettings:
    model: str = DEFAULT_MODEL
    base_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    temperature: float = 0.0
    seed: int = DEFAULT_SEED
    timeout: float = 120.0              # seconds for one request (--timeout, PREFDISSECT_LLM_TIMEOUT)
    max_timeouts: int = 5               # requests timing out in a row that end the job: a silent server
    concurrency: int = 8                # requests in flight at once
    max_attempts: int = 3               # invalid answers per call before it is marked failed
    max_retries: int = 6                # transport retries (429, 5xx, timeouts) per attempt
    max_connect_retries: int = 2        # fewer for refused connections: a dead server stays dead
    backoff_base: float = 1.0           # first backoff in seconds, doubled each retry
    backoff_cap: float = 60.0           # longest wait, also for a server's retry-after
    breaker_threshold: int = 8          # calls failing in a row (after retries) that abort the job
    batch_poll_interval: float = 30.0   # seconds between polls of a Batch API job

    def with_(self, **changes) -> "LLMSettings":
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    @property
    def server(self) -> str:
        """The address as shown and stored: credentials in it are redacted."""
        return redact(self.base_url) or "https://api.openai.com/v1"

    def require_key(self) -> str:
        if not self.api_key:
            raise ConfigError("OPENAI_API_KEY is not set: put it in the environment or in a .env file "
                              "(any value works for a local server that needs none)")
        return self.api_key


def read_dotenv(path: Path) -> dict[str, str]:
    """KEY=VALUE lines of a .env file (quotes stripped, comments and blanks ignored)."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        values[key.strip()] = value.strip().strip("'\"")
    return values


def settings_from_env(env: dict[str, str] | None = None, dotenv: Path | None = Path(".env"),
                      **overrides) -> LLMSettings:
    """Settings from the environment (then .env), with explicit options on top."""
    env = dict(os.environ if env is None else env)
    file_values = read_dotenv(dotenv) if dotenv else {}
    pick = {k: env.get(k) or file_values.get(k) for k in ENV_KEYS}
    poll = env.get("PREFDISSECT_BATCH_POLL")
    timeout = pick["PREFDISSECT_LLM_TIMEOUT"]
    base = LLMSettings(api_key=pick["OPENAI_API_KEY"] or None, base_url=pick["OPENAI_BASE_URL"] or None,
                       batch_poll_interval=float(poll) if poll else LLMSettings.batch_poll_interval,
                       timeout=check_timeout(timeout, "PREFDISSECT_LLM_TIMEOUT") if timeout else LLMSettings.timeout)
    if overrides.get("timeout") is not None:
        overrides["timeout"] = check_timeout(overrides["timeout"], "--timeout")
    return base.with_(**overrides)


def check_timeout(value, where: str) -> float:
    """Seconds for one request: a positive number (ConfigError names where the bad value came from)."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: {value!r} is not a number of seconds") from None
    if not math.isfinite(seconds) or seconds <= 0:
        raise ConfigError(f"{where}: the timeout must be a positive number of seconds, got {value!r}")
    return seconds
