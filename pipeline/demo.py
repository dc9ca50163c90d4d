"""The demo dataset: generated pairs of the release's shape, labelled by simulated judges.

Nothing here is real data. The generator writes released-format records (SPEC section 2)
to a JSONL file and loads them through the same loader as the real release, so the whole
product can be tried offline. Everything is drawn from one seeded generator: the same
seed gives the same file, byte for byte.

Shape: 5,240 pairs over the 11 scenario groups (400 each, 820 for Knowledge-aware and
Others), query-specific prerequisites at the release's counts, basic ratings around the
dataset card's mean scores, error counts around its mean counts, and log-normal word
counts around its mean length. Each judge's labels are drawn through the model of SPEC
section 6: P(response 1 preferred) = sigmoid(x . w), with w the judge's profile below.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .properties.paper_rules import feature_vector
from .properties.paper import BASIC, PROPERTY_NAMES, SCENARIO_GROUPS
from .ingest.records import parse_record

SEED = 2024
DEMO_SOURCE = "demo (generated)"

GROUP_SIZES = {g: (820 if g in ("Knowledge-aware", "Others") else 400) for g in SCENARIO_GROUPS}
# The release's counts of pairs meeting each query-specific prerequisite (out of 5,240).
PREREQUISITE_COUNTS = {"unclear": 459, "feelings": 121, "constraints": 1418, "stances": 388, "mistakes": 401}

# Dataset card: mean 0..3 score of each basic rating over all responses.
MEAN_RATING = {
    "harmless": 2.90, "grammarly correct": 2.70, "friendly": 1.79, "polite": 2.78, "interactive": 0.22,
    "authoritative": 1.67, "funny": 0.08, "use rhetorical devices": 0.16, "complex word & sentence": 0.89,
    "use supporting materials": 0.13, "well formatted": 1.26, "admit limits": 0.17, "persuasive": 0.27,
    "step-by-step": 0.37, "use informal expressions": 0.04, "non-repetitive": 0.25, "clear": 2.54,
    "relevant": 2.45, "novel": 0.47, "contain rich info": 1.74,
}
MEAN_ERRORS = {"severe": 0.59, "moderate": 0.61, "minor": 0.23}
MEAN_WORDS = 164.52
NOT_APPLICABLE_RATE = 0.06  # share of responses whose error check is 'not applicable'

# Response models: name -> quality (shifts ratings and errors) and verbosity (shifts length).
MODELS = {
    "gpt-4": (0.9, 1.1), "claude-v1": (0.8, 1.1), "gpt-3.5-turbo": (0.7, 1.0), "claude-instant-v1": (0.6, 1.0),
    "palm-2": (0.4, 0.8), "vicuna-13b": (0.4, 1.2), "koala-13b": (0.1, 1.0), "wizardlm-13b": (0.3, 1.3),
    "guanaco-33b": (0.3, 1.2), "mpt-7b-chat": (0.0, 0.9), "RWKV-4-Raven-14B": (-0.1, 0.9),
    "oasst-pythia-12b": (-0.2, 1.0), "alpaca-13b": (-0.3, 0.6), "chatglm-6b": (-0.3, 0.9),
    "fastchat-t5-3b": (-0.5, 0.6), "stablelm-tuned-alpha-7b": (-0.6, 0.8), "dolly-v2-12b": (-0.6, 0.7),
    "llama-13b": (-0.7, 0.8),
}


@dataclass(frozen=True)
class JudgeProfile:
    """A simulated judge: its weights (unlisted properties 0) and a few facts for the app."""

    name: str
    kind: str
    size_b: float | None
    weights: dict[str, float]
    note: str
    # extra weight per scenario group, e.g. caring more about errors in Code
    by_group: dict[str, dict[str, float]] = field(default_factory=dict)

    def vector(self, group: str) -> np.ndarray:
        w = dict(self.weights)
        for prop, extra in self.by_group.get(group, {}).items():
            w[prop] = w.get(prop, 0.0) + extra
        return np.array([w.get(p, 0.0) for p in PROPERTY_NAMES])


_ERRORS_MATTER = {"Code": {"no severe errors": 0.4, "no moderate errors": 0.2},
                  "Exam Questions": {"no severe errors": 0.4, "no moderate errors": 0.2},
                  "Knowledge-aware": {"no severe errors": 0.2}}
_SAFETY_MATTERS = {"Unsafe Queries": {"harmless": 0.6}}

# The simulated judges. Profiles echo the paper's findings in spirit (humans like long,
# rich answers that support their stances and dislike admitted limits; strong LLM judges
# weigh correctness, clarity and harmlessness), but every number here is made up.
PROFILES: list[JudgeProfile] = [
    JudgeProfile("human", "human", None,
                 {"contain rich info": 0.7, "lengthy": 0.5, "support stances": 0.6, "relevant": 0.4,
                  "well formatted": 0.25, "clear": 0.2, "friendly": 0.15, "admit limits": -0.45,
                  "no severe errors": 0.15, "no moderate errors": 0.1, "persuasive": 0.1},
                 "Crowd of users: long, rich, stance-supporting answers; dislikes admitted limits.",
                 {"Unsafe Queries": {"harmless": -0.3}}),
    JudgeProfile("gpt-4-turbo", "llm", None,
                 {"no severe errors": 0.9, "no moderate errors": 0.5, "no minor errors": 0.2, "clear": 0.5,
                  "harmless": 0.5, "relevant": 0.5, "contain rich info": 0.4, "satisfy constraints": 0.5,
                  "correct mistakes": 0.4, "clarify intent": 0.3, "lengthy": 0.15},
                 "Strong proprietary judge: correctness, clarity, harmlessness.",
                 {**_ERRORS_MATTER, **_SAFETY_MATTERS}),
    JudgeProfile("gpt-3.5-turbo", "llm", None,
                 {"no severe errors": 0.5, "no moderate errors": 0.25, "clear": 0.4, "harmless": 0.4,
                  "relevant": 0.4, "contain rich info": 0.5, "lengthy": 0.35, "well formatted": 0.2,
                  "satisfy constraints": 0.3},
                 "Proprietary judge: correctness matters, length a little more than for gpt-4-turbo.",
                 _SAFETY_MATTERS),
    JudgeProfile("tulu-2-dpo-70b", "llm", 70,
                 {"no severe errors": 0.5, "clear": 0.35, "harmless": 0.35, "contain rich info": 0.55,
                  "lengthy": 0.45, "relevant": 0.3, "well formatted": 0.25},
                 "Large aligned open model."),
    JudgeProfile("llama-2-70b-chat", "llm", 70,
                 {"harmless": 0.8, "polite": 0.3, "contain rich info": 0.5, "lengthy": 0.4, "clear": 0.3,
                  "no severe errors": 0.35, "admit limits": 0.2},
                 "Large chat model with a strong safety preference.",
                 {"Unsafe Queries": {"harmless": 0.6}}),
    JudgeProfile("yi-34b-chat", "llm", 34,
                 {"contain rich info": 0.6, "lengthy": 0.5, "clear": 0.3, "no severe errors": 0.3,
                  "well formatted": 0.3, "step-by-step": 0.2},
                 "Mid-size chat model: information and length."),
    JudgeProfile("llama-2-13b-chat", "llm", 13,
                 {"harmless": 0.6, "polite": 0.3, "lengthy": 0.55, "contain rich info": 0.4, "friendly": 0.2},
                 "Mid-size chat model: safe, polite, long."),
    JudgeProfile("vicuna-13b-v1.5", "llm", 13,
                 {"lengthy": 0.6, "contain rich info": 0.5, "well formatted": 0.3, "clear": 0.2},
                 "Mid-size model: prefers long, rich answers."),
    JudgeProfile("wizardlm-13b-v1.2", "llm", 13,
                 {"lengthy": 0.65, "contain rich info": 0.45, "step-by-step": 0.3, "complex word & sentence": 0.2},
                 "Mid-size model: length and step-by-step answers."),
    JudgeProfile("mistral-7b-instruct", "llm", 7,
                 {"lengthy": 0.7, "contain rich info": 0.35, "well formatted": 0.35, "friendly": 0.15},
                 "Small instruct model: length first."),
    JudgeProfile("llama-2-7b", "llm", 7,
                 {"lengthy": 0.3, "relevant": 0.2, "contain rich info": 0.15},
                 "Small pretrained-only model: weak, mostly length-driven preferences."),
    JudgeProfile("length-reward-model", "reward model", 7,
                 {"lengthy": 1.2, "contain rich info": 0.3},
                 "A reward model that mostly rewards length (a cautionary example)."),
]

_TOPICS = ["the history of the printing press", "photosynthesis", "a sorting algorithm", "a job interview",
           "climate change", "the French revolution", "a birthday party", "machine learning", "a poem about rain",
           "tax returns", "a broken friendship", "prime numbers", "a cover letter", "the stock market",
           "a wedding speech", "quantum computing", "a healthy breakfast", "an email to a landlord",
           "the moon landing", "a lost cat", "renewable energy", "a bedtime story", "SQL joins", "a trip to Japan"]
_QUERY_TEMPLATES = {
    "Advice": "What should I do about {t}? Give me some advice.",
    "Code": "Write a Python function related to {t}, and explain it.",
    "Communication": "Help me talk to my friend about {t}.",
    "Creative Writing": "Write a short creative piece about {t}.",
    "Daily Tasks": "Give me a plan for handling {t} this week.",
    "Exam Questions": "Answer this exam question: explain {t} in detail.",
    "Functional Writing": "Draft a formal document about {t}.",
    "Knowledge-aware": "What do you know about {t}?",
    "NLP Tasks": "Summarise the following text about {t} in two sentences.",
    "Others": "Tell me something interesting about {t}.",
    "Unsafe Queries": "How can I do something harmful involving {t}?",
}
_WORDS = ("the a of and to in is that it for on with as this be are by an or which from at can also "
          "answer step example result first then however because important data process model user "
          "simple clear way time help note information case point example list detail part idea").split()


_STANCE_LABELS = ["Strongly supported", "Weakly supported", "Neutral", "Weakly opposed", "Strongly opposed"]
_STANCE_P = [0.45, 0.3, 0.15, 0.06, 0.04]
_MISTAKE_LABELS = ["Pointed out and corrected", "Corrected without being pointed out",
                   "Pointed out but not corrected", "Neither pointed out nor corrected"]
_MISTAKE_P = [0.3, 0.1, 0.08, 0.52]
_ERROR_TYPES = ["factual error", "information contradiction to the query", "math operation error",
                "code generation error"]
_NEGATIVE = ("use informal expressions", "non-repetitive", "admit limits")  # better models do less of these
MAX_CONSTRAINTS = 3


def _ratings(rng, mean, shift) -> np.ndarray:
    """0..3 ratings with the given mean (binomial), nudged by response quality; broadcasts."""
    return rng.binomial(3, np.clip(np.asarray(mean) / 3 + shift, 0.003, 0.997))


def _pick(rng, n_total: int, count: int) -> np.ndarray:
    chosen = np.zeros(n_total, dtype=bool)
    chosen[rng.choice(n_total, size=count, replace=False)] = True
    return chosen


class _Draws:
    """Every random number of the dataset, drawn in whole arrays (fast and seeded).

    Arrays are indexed [pair, response(0/1), ...].
    """

    def __init__(self, rng, groups: list[str]):
        n = len(groups)
        scale = n / sum(GROUP_SIZES.values())
        self.met = {k: _pick(rng, n, min(n, round(c * scale))) for k, c in PREREQUISITE_COUNTS.items()}
        self.topic = rng.integers(len(_TOPICS), size=n)
        names = list(MODELS)
        first = rng.integers(len(names), size=n)
        second = (first + rng.integers(1, len(names), size=n)) % len(names)  # never the same model
        self.model = np.stack([first, second], axis=1)
        quality = np.array([MODELS[m][0] for m in names])[self.model]
        verbosity = np.array([MODELS[m][1] for m in names])[self.model]
        self.quality = quality
        self.words = np.clip(rng.lognormal(np.log(MEAN_WORDS * verbosity) - 0.32, 0.8), 1, 2000).astype(int)
        means = np.array([MEAN_RATING[p.name] for p in BASIC])
        means = np.broadcast_to(means, (n, 2, len(BASIC))).copy()
        unsafe = np.array([g == "Unsafe Queries" for g in groups])
        means[unsafe, :, [p.name for p in BASIC].index("harmless")] = 2.3
        per_unit = np.array([-0.02 if p.name in _NEGATIVE else 0.06 for p in BASIC])
        self.basic = _ratings(rng, means, quality[..., None] * per_unit)
        self.applicable = rng.random((n, 2)) >= NOT_APPLICABLE_RATE
        error_means = np.array(list(MEAN_ERRORS.values()))
        self.n_errors = rng.poisson(error_means * np.exp(-0.6 * quality)[..., None]) * self.applicable[..., None]
        self.error_type = rng.integers(len(_ERROR_TYPES), size=(n, 2, 3, 8))
        self.n_constraints = rng.integers(1, MAX_CONSTRAINTS + 1, size=n)
        self.clarify = _ratings(rng, 1.33, 0.05 * quality)
        self.empathy = _ratings(rng, 1.48, 0.05 * quality)
        self.constraint = _ratings(rng, 2.01, 0.06 * quality[..., None] * np.ones(MAX_CONSTRAINTS))
        self.stance = rng.choice(len(_STANCE_LABELS), p=_STANCE_P, size=(n, 2))
        self.mistake = rng.choice(len(_MISTAKE_LABELS), p=_MISTAKE_P, size=(n, 2))
        self.word_ids = rng.integers(len(_WORDS), size=int(self.words.sum()))


FORMATTED = [p.name for p in BASIC].index("well formatted")  # its rating decides the demo text's markdown


def _text(words: np.ndarray, n_words: int, lead: str, formatted: int = 0) -> str:
    """The response's words; a response rated well formatted (2 or 3) gets markdown list items,
    bold spans and, at 3, a header, so the style properties (pipeline/properties/style.py) have something
    to find that goes with the paper's rating. No random draw: the label stream stays the same."""
    chosen = [_WORDS[i] for i in words[: max(n_words - len(lead.split()), 0)]]
    if formatted < 2 or len(chosen) < 12:
        return f"{lead} {' '.join(chosen)}".strip()
    n_items = 2 + formatted  # 4 or 5 list items
    step = max(len(chosen) // (n_items + 1), 1)
    intro, items = chosen[:step], [chosen[step * (j + 1): step * (j + 2)] for j in range(n_items)]
    lines = [f"## {chosen[0].capitalize()}"] if formatted == 3 else []
    lines.append(f"{lead} {' '.join(intro)}")
    lines += [f"- **{item[0]}** {' '.join(item[1:])}" for item in items if item]
    return "\n".join(lines)


def _errors(d: _Draws, i: int, k: int) -> dict:
    if not d.applicable[i, k]:
        return {"applicable or not": "not applicable", "errors": []}
    errors = [{"brief description": f"a {sev} generated error", "severity": sev,
               "type": _ERROR_TYPES[d.error_type[i, k, s, j % 8]]}
              for s, sev in enumerate(MEAN_ERRORS) for j in range(d.n_errors[i, k, s])]
    return {"applicable or not": "applicable", "errors": errors}


def _query_specific(d: _Draws, i: int, k: int, facts: dict) -> dict:
    q = {}
    if facts["clear intent"] == "No":
        q["clarify user intent"] = int(d.clarify[i, k])
    if facts["explicitly express feelings"] == "Yes":
        q["showing empathetic"] = [f"the user's feelings | {int(d.empathy[i, k])}"]
    q["satisfying explicit constraints"] = [
        f"{c} | {int(d.constraint[i, k, j])}" for j, c in enumerate(facts["explicit constraints"])]
    q["supporting explicit subjective stances"] = [
        f"{s} | {_STANCE_LABELS[d.stance[i, k]]}" for s in facts["explicit subjective stances"]]
    q["correcting explicit mistakes or biases"] = [
        f"{m} | {_MISTAKE_LABELS[d.mistake[i, k]]}" for m in facts["explicit mistakes or biases"]]
    return q


def _facts(d: _Draws, i: int) -> dict:
    met = {k: bool(v[i]) for k, v in d.met.items()}
    return {
        "clear intent": "No" if met["unclear"] else "Yes",
        "explicitly express feelings": "Yes" if met["feelings"] else "No",
        "explicit constraints": ([f"constraint {j + 1} of the query" for j in range(d.n_constraints[i])]
                                 if met["constraints"] else []),
        "explicit subjective stances": ["the user's stance on the topic"] if met["stances"] else [],
        "explicit mistakes or biases": ["a wrong assumption in the query"] if met["mistakes"] else [],
    }


def generate_records(seed: int = SEED, profiles: list[JudgeProfile] = PROFILES,
                     group_sizes: dict[str, int] | None = None) -> list[dict]:
    """All demo records, labels included, in a fixed order (by scenario group).

    `group_sizes` makes a smaller (or larger) dataset of the same shape, for tests and
    benchmarks; prerequisite counts scale with it.
    """
    rng = np.random.default_rng(seed)
    sizes = group_sizes or GROUP_SIZES
    groups = [g for g, size in sizes.items() for _ in range(size)]
    d = _Draws(rng, groups)
    names = list(MODELS)
    word_offsets = np.concatenate([[0], np.cumsum(d.words.ravel())])
    records = []
    for i, group in enumerate(groups):
        topic = _TOPICS[d.topic[i]]
        facts = _facts(d, i)
        rec = {"id": i, "query": _QUERY_TEMPLATES.get(group, "Tell me about {t}.").format(t=topic) + " (generated demo query)",
               "scenario_auto-j": group.lower().replace(" ", "_"), "scenario_group": group}
        for k in (0, 1):
            model, n_words = names[d.model[i, k]], int(d.words[i, k])
            start = word_offsets[2 * i + k]
            words = d.word_ids[start:start + n_words]
            text = _text(words, n_words, f"[generated demo text by {model} on {topic}]", int(d.basic[i, k, FORMATTED]))
            rec[f"response_{k + 1}"] = {"content": text,
                                        "model": model, "num_words": n_words}
            rec[f"basic_response_{k + 1}"] = {p.source_key: int(d.basic[i, k, j]) for j, p in enumerate(BASIC)}
            rec[f"errors_response_{k + 1}"] = _errors(d, i, k)
            rec[f"query-specific_response_{k + 1}"] = _query_specific(d, i, k, facts)
        rec["gpt-4-turbo_reference"] = f"[generated demo reference answer on {topic}]"
        rec.update(facts)
        records.append(rec)
    _draw_labels(rng, records, groups, profiles)
    return records


def _draw_labels(rng, records: list[dict], groups: list[str], profiles: list[JudgeProfile]) -> None:
    """Each judge's choice ~ Bernoulli(sigmoid(x . w)), x from our own feature rules."""
    X = np.array([feature_vector(parse_record(r, i)) for i, r in enumerate(records)], dtype=float)
    for prof in profiles:
        W = {g: prof.vector(g) for g in set(groups)}
        logits = np.array([X[i] @ W[g] for i, g in enumerate(groups)])
        win1 = rng.random(len(records)) < 1 / (1 + np.exp(-logits))
        for rec, w in zip(records, win1):
            rec.setdefault("preference_labels", {})[prof.name] = "response_1" if w else "response_2"


def write_jsonl(records: list[dict], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for rec in records:
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")


class DemoRefused(RuntimeError):
    """The target database holds real data: the demo will not overwrite it."""


def _holds_real_data(path: Path) -> bool:
    import duckdb

    from .store import db as dbmod

    try:
        with dbmod.reading(path, timeout=5) as con:
            # by the sources' flags, and by the pairs themselves: a pair whose source is not a
            # generated source, or a generated source that is not the demo's kind, is real data
            return bool(con.execute(
                "SELECT (SELECT count(*) FROM sources WHERE NOT generated OR kind <> 'generated') "
                "+ (SELECT count(*) FROM pairs WHERE source NOT IN "
                "(SELECT source FROM sources WHERE generated AND kind = 'generated'))").fetchone()[0])
    except (duckdb.CatalogException, dbmod.DatabaseMissing):
        return False


BOARD_JUDGE = "human"  # the demo's stored boards and what-if are the crowd's


def what_if_model(db) -> str:
    """The What-if page's first model (the most frequent): its forecast is the one stored."""
    from .queries import whatif
    from .store import db as dbmod

    with dbmod.reading(db) as con:
        return whatif.models(con)[0]


def fit_demo(db, *, progress=None) -> dict[str, float]:
    """Everything the pages read, so none opens empty: the paper and style fits, the crowd's raw
    and style-controlled leaderboards, and the what-if of the What-if page's first view (paper set).
    Returns seconds per step."""
    import time

    from .answers.forecasts import what_if
    from .answers.leaderboard import build_leaderboard
    from .model.fitting import fit_database

    steps = {
        "fit": lambda: fit_database(db=db, progress=progress),
        "fit_style": lambda: fit_database(db=db, progress=progress, property_set="style"),
        "boards": lambda: build_leaderboard(db, judges=[BOARD_JUDGE], control="style"),
        "what_if": lambda: what_if(db, judge=BOARD_JUDGE, model=what_if_model(db)),
    }
    timings = {}
    for name, step in steps.items():
        t = time.perf_counter()
        step()
        timings[name] = time.perf_counter() - t
    return timings


def build_demo(db=None, *, seed: int = SEED, fit: bool = True, force: bool = False, progress=None) -> dict:
    """Generate, write and load the demo, then (fit=True) fit it and store its answers (fit_demo).
    Returns timings and counts.

    The database is built beside the target and moved into place at the end, so an app
    reading the old file never sees a half-built one.
    """
    import os
    import time

    from .store import db as dbmod
    from .ingest.loader import load_source

    if isinstance(dbmod.locate(db), dbmod.LakeDb):
        return _demo_into_lake(db, seed=seed, fit=fit, progress=progress)
    target = dbmod.resolve_db_path(db)
    if target.exists() and not force and _holds_real_data(target):
        raise DemoRefused(f"{target} holds loaded (non-generated) data; use another --db or --force")
    timings = {}
    t0 = time.perf_counter()
    records = generate_records(seed)
    records_path = target.parent / "demo_release.jsonl"
    write_jsonl(records, records_path)
    timings["generate"] = time.perf_counter() - t0
    tmp = target.with_name(target.name + ".building")
    for p in (tmp, Path(str(tmp) + ".wal")):
        p.unlink(missing_ok=True)
    t1 = time.perf_counter()
    report = load_source(str(records_path), db=tmp, name=DEMO_SOURCE, kind="generated", generated=True)
    with dbmod.writing(tmp) as con:
        for prof in PROFILES:
            con.execute("UPDATE judges SET kind = ?, size_b = ?, note = ? WHERE judge = ?",
                        [prof.kind, prof.size_b, "generated demo judge: " + prof.note, prof.name])
    timings["load"] = time.perf_counter() - t1
    if fit:
        timings.update(fit_demo(tmp, progress=progress))
    for p in (target, Path(str(target) + ".wal")):
        p.unlink(missing_ok=True)
    os.replace(tmp, target)
    timings["total"] = time.perf_counter() - t0
    return {"pairs": report.new_pairs, "judges": len(report.judges), "path": str(target), "seconds": timings}


def _demo_into_lake(db, *, seed: int, fit: bool, progress) -> dict:
    """A lake gets the demo as one snapshot: built as a file beside its local files, then
    copied in (`copy --to`, which refuses a lake that holds data already)."""
    import tempfile

    from .store import db as dbmod
    from .store.copying import copy_database

    anchor = dbmod.resolve_db_path(db)
    anchor.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".demo-", dir=anchor.parent) as folder:
        built = build_demo(Path(folder) / "demo.duckdb", seed=seed, fit=fit, progress=progress)
        copy_database(built["path"], db, job="demo" + ("" if fit else " --no-fit"))
    return {**built, "path": dbmod.locate(db).display}
