"""What a planned run of LLM calls needs and may cost: shared by annotate and judge-llm."""

from __future__ import annotations

from dataclasses import dataclass
from .pricing import Price, format_usd


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
