"""Token counts for cost estimates: tiktoken when its encoding is at hand, else chars / 4.

tiktoken downloads its encodings on first use. Where that cannot happen (no network) we
fall back to the usual rule of thumb of four characters per token and say so.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

MESSAGE_OVERHEAD = 4   # tokens the chat format adds per message
REPLY_OVERHEAD = 3     # tokens that prime the reply
LOAD_TIMEOUT = 10.0    # seconds we wait for tiktoken to fetch an encoding


@dataclass(frozen=True)
class TokenCounter:
    method: str                       # how counts are made, in words for the user
    count: Callable[[str], int]
    exact: bool = False

    def count_messages(self, messages: list[dict[str, str]]) -> int:
        return REPLY_OVERHEAD + sum(MESSAGE_OVERHEAD + self.count(m.get("content") or "") for m in messages)


def approximate(text: str) -> int:
    return (len(text) + 3) // 4


APPROXIMATE = TokenCounter("approximated as 4 characters per token (tiktoken's encoding could not be loaded "
                           "offline)", approximate)


def _encoding_name(model: str) -> str:
    try:
        from tiktoken.model import encoding_name_for_model
        return encoding_name_for_model(model)
    except Exception:  # unknown model: recent OpenAI models use o200k
        return "o200k_base"


def _load_encoding(name: str):
    """tiktoken.get_encoding in a thread, so a network that hangs cannot hang us."""
    box: dict = {}

    def work():
        try:
            import tiktoken
            box["enc"] = tiktoken.get_encoding(name)
        except Exception as exc:  # no network, no package, ...
            box["err"] = exc

    t = threading.Thread(target=work, daemon=True)
    t.start()
    t.join(LOAD_TIMEOUT)
    return box.get("enc")


@lru_cache(maxsize=None)
def token_counter(model: str) -> TokenCounter:
    if os.environ.get("PREFDISSECT_TIKTOKEN", "").lower() in ("0", "off", "no"):
        return APPROXIMATE
    name = _encoding_name(model)
    enc = _load_encoding(name)
    if enc is None:
        return APPROXIMATE
    return TokenCounter(f"counted with tiktoken ({name})", lambda text: len(enc.encode(text, disallowed_special=())),
                        exact=True)
