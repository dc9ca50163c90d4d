"""The judges' votes of a chunk of released-format records, as columns.

A record of the release carries every judge's vote (`preference_labels`): at 100,000 records
x 50 judges, five million votes. Checking and copying them one by one in Python took about a
fifth of a load. Here a chunk's votes are read as columns: the choices looked up in one pass
over all of them, the judges' names, mostly the same in every record, taken from one record.
When every vote is written exactly as the release writes it (`response_1`, `a`, `model_b`, ...
or null) that is all. Anything else (a choice with spaces or capitals, a number, a name that is
not text, labels that are not an object) sends the chunk through `records.parse_labels`, record
by record, which reads the variants it accepts and names the record and field of the first it
refuses.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import chain

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..properties.annotations import Pair
from .records import CHOICES


@dataclass
class ChunkLabels:
    """Votes of a chunk's records in record order: `counts[i]` votes of record i, then their
    judges and choices (1 or 2); votes left null (a judge who did not label) are not here."""

    counts: np.ndarray      # int64, one per record
    judges: pa.Array        # string
    choices: np.ndarray     # int8

    @property
    def names(self) -> set[str]:
        return set(pc.unique(self.judges).to_pylist()) if len(self.judges) else set()

    def rows(self, pids: list[int], fresh: list[bool]) -> tuple[dict, dict]:
        """(labels of pairs stored now, labels of pairs stored before or repeated), as columns."""
        pid = np.repeat(np.asarray(pids, dtype=np.int64), self.counts)
        new = np.repeat(np.asarray(fresh, dtype=bool), self.counts)
        return self._columns(pid, new), self._columns(pid, ~new)

    def _columns(self, pid: np.ndarray, keep: np.ndarray) -> dict:
        judges, choices = self.judges, self.choices
        if not keep.all():
            pid, judges, choices = pid[keep], judges.filter(pa.array(keep)), choices[keep]
        return {"pair_id": pid, "judge": judges, "preferred": choices, "prob_1": pa.nulls(len(pid), pa.float64())}


_CODES = {**CHOICES, None: 0}  # 0: a judge left null, who did not label the pair


def _judges(objects: list[dict]) -> pa.Array | None:
    """Every vote's judge in order, or None when a judge's name is not text (parse_labels decides).
    Records of one file mostly name the same judges in the same order: then the names are
    one record's, repeated (a dictionary array, read by DuckDB as text)."""
    first = tuple(objects[0]) if objects else ()
    if all(type(name) is str for name in first) and all(tuple(o) == first for o in objects):
        indices = np.tile(np.arange(len(first), dtype=np.int32), len(objects))
        return pa.DictionaryArray.from_arrays(indices, pa.array(first, pa.string()))
    names = list(chain.from_iterable(objects))
    if not set(map(type, names)) <= {str}:  # pyarrow would take bytes as text too
        return None
    return pa.array(names, pa.string())


def from_records(records: list) -> ChunkLabels | None:
    """The votes of these raw records, or None when one of them must be read by `parse_labels`."""
    objects = []
    for rec in records:
        labels = rec.get("preference_labels") if type(rec) is dict else None
        if labels is None:
            labels = {}
        elif type(labels) is not dict:
            return None
        objects.append(labels)
    counts = np.fromiter(map(len, objects), dtype=np.int64, count=len(objects))
    try:  # each choice exactly as the release writes it, or null; else KeyError (TypeError: a list)
        codes = np.fromiter(map(_CODES.__getitem__, chain.from_iterable(map(dict.values, objects))),
                            dtype=np.int8, count=int(counts.sum()))
    except (KeyError, TypeError):
        return None
    judges = _judges(objects)
    if judges is None:
        return None
    present = codes != 0
    if present.all():
        return ChunkLabels(counts, judges, codes)
    # drop the null votes, and count each record's votes again
    owner = np.repeat(np.arange(len(objects)), counts)[present]
    return ChunkLabels(np.bincount(owner, minlength=len(objects)).astype(np.int64),
                       judges.filter(pa.array(present)), codes[present])


def from_pairs(pairs: list[Pair]) -> ChunkLabels:
    """The votes `parse_labels` read into checked pairs."""
    counts = np.fromiter((len(p.labels) for p in pairs), dtype=np.int64, count=len(pairs))
    judges = pa.array([j for p in pairs for j in p.labels], pa.string())
    choices = np.fromiter((c for p in pairs for c in p.labels.values()), dtype=np.int8, count=int(counts.sum()))
    return ChunkLabels(counts, judges, choices)


__all__ = ["ChunkLabels", "from_pairs", "from_records"]
