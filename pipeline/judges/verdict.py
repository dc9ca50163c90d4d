"""One judge answer: which letter the LLM named, and how sure it was (SPEC section 7).

Each answer gives the probability that answer A is better: from the logprobs of the
tokens "A" and "B" when the server returns them (renormalised over those two), else 1
or 0 from the text. `LogprobClient` keeps the logprobs in the answer's text, as a
small JSON envelope {"text": ..., "top": [[token, logprob], ...]}, because the journal
stores only the text. `combine` puts the two orders of one pair together.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from ..llm import InvalidAnswer
from .labels_file import TIE, TIE_TOLERANCE, Label

# ---------------------------------------------------------------- one answer


@dataclass(frozen=True)
class Verdict:
    p_a: float     # probability that answer A is the better one
    via: str       # 'logprobs' or 'text'


_LETTER = re.compile(r"^(?:(?:answer|response)\s*[:\-]?\s*)?([AB])$", re.I)


def _letter(token: str) -> str | None:
    """'A' or 'B' when a token or a short text names one, else None."""
    t = token.strip().strip("*_`'\"()[]<>.:,").strip()
    m = _LETTER.match(t)
    return m.group(1).upper() if m else None


def _from_logprobs(top: list[list[Any]] | None) -> float | None:
    """P(A) renormalised over A and B, from the first position whose alternatives name one."""
    for position in top or []:
        mass = {"A": 0.0, "B": 0.0}
        for token, logprob in position:
            letter = _letter(str(token))
            if letter and logprob is not None and math.isfinite(logprob):
                mass[letter] += math.exp(logprob)
        total = mass["A"] + mass["B"]
        if total > 0:
            return mass["A"] / total
    return None


def parse_verdict(raw: str) -> Verdict:
    """The validator of a judge call: logprobs when present, else the text. InvalidAnswer otherwise."""
    text, top = raw, None
    try:
        env = json.loads(raw)
        if isinstance(env, dict) and "text" in env:
            text, top = env.get("text") or "", env.get("top")
    except (json.JSONDecodeError, TypeError):
        pass  # a plain text answer (stored without the envelope)
    p = _from_logprobs(top)
    if p is not None:
        return Verdict(p, "logprobs")
    letter = _letter(text)
    if letter is None:
        preview = " ".join(str(text).split())[:40]
        raise InvalidAnswer(f"expected the letter A or B, got {preview!r}")
    return Verdict(1.0 if letter == "A" else 0.0, "text")


# ---------------------------------------------------------------- the client adapter


def _get(obj: Any, name: str, default: Any = None) -> Any:
    """Attribute or key: SDK objects and plain dicts from lenient servers alike."""
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


def _top_logprobs(choice: Any, positions: int = 3) -> list[list[list[Any]]] | None:
    content = _get(_get(choice, "logprobs"), "content")
    if not content:
        return None
    out = []
    for tok in content[:positions]:
        alts = _get(tok, "top_logprobs") or [tok]  # no alternatives: the chosen token alone
        out.append([[_get(a, "token"), _get(a, "logprob")] for a in alts])
    return out


def envelope(resp: Any) -> Any:
    """The completion with its text replaced by {"text", "top"}: what the journal keeps."""
    choices = _get(resp, "choices") or []
    if not choices:
        return resp
    choice = choices[0]
    text = _get(_get(choice, "message"), "content") or ""
    body = json.dumps({"text": text, "top": _top_logprobs(choice)}, ensure_ascii=False)
    wrapped = SimpleNamespace(message=SimpleNamespace(content=body), finish_reason=_get(choice, "finish_reason"))
    return SimpleNamespace(id=_get(resp, "id"), usage=_get(resp, "usage"), choices=[wrapped])


class LogprobClient:
    """The OpenAI client as CallRunner uses it, keeping each answer's logprobs in its text."""

    def __init__(self, inner):
        self._inner = inner
        self.chat = SimpleNamespace(completions=SimpleNamespace(create=self._create))

    async def _create(self, **body):
        return envelope(await self._inner.chat.completions.create(**body))

    async def close(self) -> None:
        await self._inner.close()


# ---------------------------------------------------------------- combining


@dataclass(frozen=True)
class PairJudgement:
    pair_id: int
    p1_ab: float        # P(response 1 better) from the order where it was A
    p1_ba: float        # ... and from the order where it was B
    via: str            # 'logprobs', 'text' or 'mixed'

    @property
    def prob_1(self) -> float:
        return (self.p1_ab + self.p1_ba) / 2

    @property
    def tie(self) -> bool:
        return abs(self.prob_1 - TIE) <= TIE_TOLERANCE

    @property
    def consistent(self) -> bool:
        """Both orders name the same response (a 0.5 in either order names none)."""
        return (self.p1_ab - TIE) * (self.p1_ba - TIE) > 0


def combine(pair_id: int, ab: Verdict, ba: Verdict) -> PairJudgement:
    via = ab.via if ab.via == ba.via else "mixed"
    return PairJudgement(pair_id, ab.p_a, 1.0 - ba.p_a, via)


def position_consistency(judgements: list[PairJudgement]) -> float | None:
    if not judgements:
        return None
    return sum(j.consistent for j in judgements) / len(judgements)


def to_labels(judgements: list[PairJudgement]) -> tuple[list[Label], int]:
    """(labels, ties): a 0.5 has no preference and is left out."""
    labels = [Label(j.pair_id, 1 if j.prob_1 > TIE else 2, j.prob_1) for j in judgements if not j.tie]
    return labels, len(judgements) - len(labels)


__all__ = ["LogprobClient", "PairJudgement", "Verdict", "combine", "envelope", "parse_verdict",
           "position_consistency", "to_labels"]
