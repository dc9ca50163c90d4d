"""JSON that DuckDB's reader takes but Python's refuses must be refused by the SQL path too, with
Python's line: a trailing comma in an object or a list (`{"a": 1,}`, `[1, 2,]`), or a form feed
or vertical tab around a record (found by the damage test below), in every JSON
layout a scan reads (Arena, HH-RLHF, generic and AlpacaEval; JSON lines and JSON lists). A comma
and a bracket inside a text are no trailing comma: such a file is still taken by the SQL path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from formats.test_arena_scan import battle  # tests/ingest/formats (no packages here)
from fuzzing import SLOW
from hypothesis import given, settings
from hypothesis import strategies as st
from test_raw_bulk import load_both_ways, loaded_or_refused_alike


def _generic(i: int, **over) -> dict:
    return {"prompt": f"p{i}", "response_1": "a", "response_2": "b", "winner": 1, **over}


def _alpaca(i: int, **over) -> dict:
    return {"instruction": f"q{i}", "output_1": "a", "output_2": "b", "generator_1": "m1", "generator_2": "m2",
            "annotator": "gpt4", "preference": 1, **over}


def _hh(i: int, **over) -> dict:
    return {"chosen": f"\n\nHuman: q{i}\n\nAssistant: a", "rejected": f"\n\nHuman: q{i}\n\nAssistant: b", **over}


# layout -> (file name, its rows, the format to load it as)
LAYOUTS = {
    "arena lines": ("battles.jsonl", lambda: [battle(0), battle(1), battle(2)], "arena"),
    "hh-rlhf lines": ("hh.jsonl", lambda: [_hh(0), _hh(1), _hh(2)], "hh-rlhf"),
    "generic lines": ("pairs.jsonl", lambda: [_generic(0), _generic(1), _generic(2)], "generic"),
    "generic list": ("pairs.json", lambda: [_generic(0), _generic(1), _generic(2)], "generic"),
    "alpaca list": ("annotations.json", lambda: [_alpaca(0), _alpaca(1), _alpaca(2)], "alpaca-eval"),
    "alpaca lines": ("annotations.jsonl", lambda: [_alpaca(0), _alpaca(1), _alpaca(2)], "alpaca-eval"),
}


def _write(path: Path, rows: list[dict], spoil) -> Path:
    """The rows as the file's layout, the second row's text passed through `spoil`."""
    texts = [json.dumps(r, ensure_ascii=False) for r in rows]
    texts[1] = spoil(texts[1])
    if path.suffix == ".jsonl":
        path.write_text("".join(t + "\n" for t in texts), encoding="utf-8")
    else:
        path.write_text("[\n" + ",\n".join(texts) + "\n]", encoding="utf-8")
    return path


SPOILS = {
    "a form feed before the row": lambda t: "\x0c" + t,
    "a vertical tab after the row": lambda t: t + "\x0b",
    "a trailing comma in the row": lambda t: t[:-1] + ",}",
    "a trailing comma and spaces": lambda t: t[:-1] + ", \t }",
    "a trailing comma in a list": lambda t: t[:-1] + ', "extra": [1, 2 ,]}',
}


@pytest.mark.parametrize("spoil", sorted(SPOILS))
@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_a_trailing_comma_is_refused_as_python_refuses_it(layout, spoil, tmp_path, monkeypatch):
    name, rows, fmt = LAYOUTS[layout]
    path = _write(tmp_path / name, rows(), SPOILS[spoil])
    assert loaded_or_refused_alike(path, tmp_path, monkeypatch, format=fmt) is None


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_commas_and_brackets_inside_texts_are_still_taken(layout, tmp_path, monkeypatch):
    name, rows, fmt = LAYOUTS[layout]
    path = _write(tmp_path / name, rows(), lambda t: t[:-1] + ', "note": "x ,] ,} \\", ]", "n": [1, {}]}')
    bulk, by_row, calls = load_both_ways([path], tmp_path, monkeypatch, format=fmt)
    assert bulk == by_row and calls == [True]


# Generated damage: a token put in, or a character taken out, anywhere in a valid file. Whatever
# comes out, the SQL path stores what Python stores or refuses it with Python's line.
TOKENS = [",", ", ", "}", "]", "{", "[", '"', "\\", " ", "\n", "1", "null", "NaN", ":", ",]", ",}", "\\u0041",
          "\t", "//", "'", "-", "1e999", '"x":1,', "\ufeff", "\x0c", ""]


@pytest.mark.slow
@settings(SLOW, max_examples=25)
@given(layout=st.sampled_from(sorted(LAYOUTS)), data=st.data())
def test_damaged_json_is_stored_alike_or_refused_alike(layout, data, tmp_path_factory, monkeypatch):
    name, rows, fmt = LAYOUTS[layout]
    folder = tmp_path_factory.mktemp("damaged")
    path = _write(folder / name, rows(), lambda t: t)
    text = path.read_text(encoding="utf-8")
    at = data.draw(st.integers(0, len(text) - 1), label="at")
    token = data.draw(st.sampled_from(TOKENS), label="token")
    path.write_text(text[:at] + token + text[at + (0 if token else 1):], encoding="utf-8")
    loaded = loaded_or_refused_alike(path, folder, monkeypatch, format=fmt)
    if loaded is not None:
        assert loaded[0] == loaded[1]
