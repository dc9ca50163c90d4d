"""One logical LLM call and its identity.

The request hash covers everything that shapes the answer (model, messages, sampling,
prompt version), and nothing about who asked: two pairs with the same query share the
query-facts call, and a rerun finds every answer it already paid for.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any


@dataclass
class LLMRequest:
    job: str                          # 'annotate', 'judge:NAME', ...
    step: str                         # what the call is for, e.g. 'query-facts'
    item_key: str                     # the unit it belongs to (a pair key)
    model: str
    messages: list[dict[str, str]]
    prompt_version: str               # e.g. 'annotate_1_query_facts@1'
    json_mode: bool = True
    max_tokens: int | None = None
    temperature: float = 0.0
    seed: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # other body fields (logprobs, ...)
    hash: str = field(init=False)

    def __post_init__(self) -> None:
        ident = [self.model, self.messages, self.prompt_version, self.json_mode, self.max_tokens,
                 self.temperature, self.seed, self.extra]
        blob = json.dumps(ident, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        self.hash = hashlib.sha256(blob.encode("utf-8", "surrogatepass")).hexdigest()[:32]

    def body(self, attempt: int = 0) -> dict[str, Any]:
        """The chat-completions body; a retry after an invalid answer moves the seed on."""
        body: dict[str, Any] = {"model": self.model, "messages": self.messages, "temperature": self.temperature}
        if self.seed is not None:
            body["seed"] = self.seed + attempt
        if self.max_tokens:
            body["max_tokens"] = self.max_tokens
        if self.json_mode:
            body["response_format"] = {"type": "json_object"}
        body.update(self.extra)
        return body

    @property
    def prompt_text(self) -> str:
        return "\n".join(m.get("content") or "" for m in self.messages)
