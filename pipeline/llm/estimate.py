"""What a planned run of LLM calls needs and may cost: shared by annotate, judge-llm and custom properties.

One token estimator for every job: exact counts (tiktoken, or 4 characters a token) for
up to `SAMPLE` requests, scaled by characters to the rest, since tokenizing a whole
release takes minutes and characters track tokens closely within one prompt template.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .pricing import Price, format_usd, price_for
from .request import LLMRequest
from .tokens import TokenCounter, token_counter

SAMPLE = 400


def prompt_tokens(counter: TokenCounter, requests: Sequence[LLMRequest]) -> int:
    """Prompt tokens of all `requests`: exact for a sample, scaled by characters."""
    if len(requests) <= SAMPLE:
        return sum(counter.count_messages(r.messages) for r in requests)
    chars = [sum(len(m.get("content") or "") for m in r.messages) for r in requests]
    picked = range(0, len(requests), len(requests) // SAMPLE)
    tokens = sum(counter.count_messages(requests[i].messages) for i in picked)
    return round(tokens * sum(chars) / max(1, sum(chars[i] for i in picked)))


@dataclass(kw_only=True)
class CallEstimate:
    """Counts and cost of a plan's calls. A plan also has `calls_total` and `journal`."""

    retry_failed: bool = False
    calls_cached: int = 0                # answered in an earlier run: no request
    calls_failed: int = 0                # marked failed earlier: skipped unless retry_failed
    est_prompt_tokens: int = 0           # for the calls still to make
    est_completion_tokens: int = 0
    est_cost_usd: float | None = None
    price: Price | None = None
    token_method: str = ""

    # A plan also provides `calls_total` (calls the work needs) and `journal` (its path);
    # they are not declared here, so each plan keeps them where its fields need them.

    def estimate(self, model: str, todo: Sequence[LLMRequest], completion_tokens: int, *, batch: bool = False) -> None:
        """Tokens and cost of the calls still to make (`completion_tokens`: their expected output in all)."""
        self.estimate_parts(model, [(todo, completion_tokens, 1.0)], batch=batch)

    def estimate_parts(self, model: str, parts: Sequence[tuple[Sequence[LLMRequest], int, float]], *,
                       batch: bool = False) -> None:
        """`estimate` of a plan counted in parts, each (todo, completion tokens, how many times it
        counts): a preview scales a query's calls and a pair's calls by different factors."""
        counter = token_counter(model)
        self.token_method = counter.method
        self.price = self.price or price_for(model)
        prompt = [prompt_tokens(counter, todo) * weight for todo, _, weight in parts]
        completion = [tokens * weight for _, tokens, weight in parts]
        self.est_prompt_tokens, self.est_completion_tokens = round(sum(prompt)), round(sum(completion))
        if self.price:
            self.est_cost_usd = sum(self.price.cost(p, c, batch=batch) for p, c in zip(prompt, completion))

    @property
    def calls_to_make(self) -> int:
        return self.calls_total - self.calls_cached - (0 if self.retry_failed else self.calls_failed)

    def call_lines(self) -> list[str]:
        """The plan's calls, tokens, cost and journal, in the same words for every job."""
        price = (f" at ${self.price.input:g}/${self.price.output:g} per 1M tokens ({self.price.model})"
                 if self.price else "")
        return [
            f"calls: {self.calls_total} needed, {self.calls_cached} answered before, {self.calls_failed} failed "
            f"before" + (" (retried)" if self.retry_failed else " (skipped)") + f", {self.calls_to_make} to make",
            f"estimated tokens: {self.est_prompt_tokens:,} in, {self.est_completion_tokens:,} out, {self.token_method}",
            f"estimated cost: {format_usd(self.est_cost_usd)}{price}",
            f"call journal: {self.journal}",
        ]
