"""Small simulated databases for the answers tests (leaderboards, differences, forecasts).

Rows go in directly through `db.writing`, so a database of a few thousand pairs takes a
fraction of a second. Features are paper properties (the registry must know them).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa

from pipeline.store import db as dbmod


def random_battles(rng: np.random.Generator, models: list[str], n: int) -> tuple[np.ndarray, np.ndarray]:
    """n battles between two different models, each drawn uniformly."""
    a = rng.integers(0, len(models), n)
    b = (a + rng.integers(1, len(models), n)) % len(models)
    names = np.array(models, dtype=object)
    return names[a], names[b]


def write_db(path: Path, model_1, model_2, *, features: dict[str, np.ndarray] | None = None,
             labels: dict[str, np.ndarray] | None = None, groups: dict[str, np.ndarray] | None = None) -> Path:
    """A database of len(model_1) pairs: features {property: values}, labels {judge: preferred 1/2},
    groups {name: boolean mask} (every pair is in 'All')."""
    n = len(model_1)
    ids = np.arange(n)
    pairs_t = pa.table({"pair_id": ids, "model_1": [str(m) for m in model_1],  # noqa: F841 - read by DuckDB
                        "model_2": [str(m) for m in model_2]})
    members = [(ids, "All", "all")] + [(ids[np.asarray(m, bool)], g, "scenario") for g, m in (groups or {}).items()]
    groups_t = pa.table({"pair_id": np.concatenate([m[0] for m in members]),  # noqa: F841
                         "group_name": sum(([g] * len(i) for i, g, _ in members), []),
                         "group_kind": sum(([k] * len(i) for i, _, k in members), [])})
    features = features or {}
    feats_t = pa.table({"pair_id": np.tile(ids, len(features)),  # noqa: F841
                        "property": sum(([p] * n for p in features), []),
                        "value": np.concatenate([np.asarray(v, int) for v in features.values()] or [[]]).astype(int)})
    labels = labels or {}
    labels_t = pa.table({"pair_id": np.tile(ids, len(labels)),  # noqa: F841
                         "judge": sum(([j] * n for j in labels), []),
                         "preferred": np.concatenate([np.asarray(v, int) for v in labels.values()] or [[]]).astype(int)})
    with dbmod.writing(path) as con:
        con.execute("INSERT INTO pairs (pair_id, source, source_index, pair_key, query, model_1, model_2, "
                    "response_1, response_2, num_words_1, num_words_2, usable) SELECT pair_id, 'sim', pair_id, "
                    "'key' || pair_id, 'query ' || pair_id, model_1, model_2, 'a', 'b', 10, 10, TRUE FROM pairs_t")
        con.execute("INSERT INTO pair_groups SELECT pair_id, group_name, group_kind FROM groups_t")
        con.execute("INSERT INTO features SELECT pair_id, property, value FROM feats_t")
        con.execute("INSERT INTO judges (judge, kind) SELECT DISTINCT judge, 'llm' FROM labels_t")
        con.execute("INSERT INTO labels (pair_id, judge, preferred) SELECT pair_id, judge, preferred FROM labels_t")
    return path


def draw_labels(rng: np.random.Generator, logit: np.ndarray) -> np.ndarray:
    """preferred = 1 with probability sigmoid(logit), else 2."""
    return np.where(rng.random(len(logit)) < 1.0 / (1.0 + np.exp(-logit)), 1, 2)
