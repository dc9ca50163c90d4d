"""What calls cost: a small editable table (prices.toml) of dollars per million tokens."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

PRICES_FILE = Path(__file__).with_name("prices.toml")


@dataclass(frozen=True)
class Price:
    model: str              # the table entry that matched
    input: float            # USD per million prompt tokens
    output: float           # USD per million completion tokens
    batch_discount: float = 0.5

    def cost(self, prompt_tokens: int, completion_tokens: int, *, batch: bool = False) -> float:
        usd = (prompt_tokens * self.input + completion_tokens * self.output) / 1e6
        return usd * self.batch_discount if batch else usd


def prices_path() -> Path:
    env = os.environ.get("PREFDISSECT_PRICES")
    return Path(env) if env else PRICES_FILE


@lru_cache(maxsize=8)
def _table(path: Path) -> dict:
    with open(path, "rb") as f:
        return tomllib.load(f)


def price_for(model: str, path: Path | None = None) -> Price | None:
    """The price of a model, or None when the table does not know it."""
    table = _table(path or prices_path())
    models = table.get("models", {})
    name = model if model in models else max((m for m in models if model.startswith(m)), key=len, default=None)
    if name is None:
        return None
    entry = models[name]
    return Price(name, float(entry["input"]), float(entry["output"]), float(table.get("batch_discount", 0.5)))


def format_usd(value: float | None) -> str:
    if value is None:
        return "unknown (model not in the price table)"
    return f"${value:,.4f}" if value < 1 else f"${value:,.2f}"
