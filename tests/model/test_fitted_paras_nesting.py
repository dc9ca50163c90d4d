"""An `import-fits` line of any nesting depth, number size or escaped text is read or refused in one
line naming the file and line (issue 20, class 4). Before: deep nesting raised RecursionError, a
5,000-digit integer a raw ValueError, a 400-digit one an OverflowError, and a lone surrogate
(`"\\ud800"`) reached the database as a UnicodeEncodeError."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.model.fitted_paras import FittedParasError, read_file
from pipeline.properties.paper import PROPERTY_NAMES

N = len(PROPERTY_NAMES)
OK = json.dumps({"model_name": "fine", "parameters": [0.5] * N})


def line(slot: str, value: str) -> str:
    params = ", ".join(["0"] * (N - 1))
    if slot == "whole":
        return value
    if slot == "name":
        return '{"model_name": ' + value + ', "parameters": [' + params + ", 0]}"
    if slot == "param":
        return '{"model_name": "x", "parameters": [' + params + ", " + value + "]}"
    return '{"model_name": "x", "parameters": [' + params + ', 0], "extra": ' + value + "}"


VALUES = st.one_of(
    st.integers(1, 6000).map(lambda d: "[" * d + "]" * d),
    st.integers(1, 6000).map(lambda d: '{"a": ' * d + "1" + "}" * d),
    st.integers(1, 7000).map(lambda n: "9" * n),
    st.integers(1, 7000).map(lambda n: "-" + "1" * n),
    st.integers(1, 5000).map(lambda n: "1" + "0" * n + ".5"),
    st.sampled_from(['"\\ud800"', '"a\\udfffb"', '"\\ud83d"', '"ok\\u0000"']),
)


@settings(max_examples=150, deadline=None)
@given(slot=st.sampled_from(["whole", "name", "param", "extra"]), value=VALUES)
def test_any_line_is_read_or_refused_in_one_line(tmp_path_factory, slot, value):
    path = tmp_path_factory.mktemp("fp") / "model_all_fitted_paras.jsonl"
    path.write_text(OK + "\n" + line(slot, value) + "\n", encoding="utf-8")
    try:
        got = read_file(path)
    except FittedParasError as exc:
        message = str(exc)
        assert message.startswith(f"{path} line 2") and "\n" not in message and len(message) < 600, message
        return
    # accepted: every name is text the database can store, every weight a finite float
    for judge in got.judges:
        judge.name.encode("utf-8")
        assert len(judge.parameters) == N and all(isinstance(w, float) and abs(w) < float("inf")
                                                  for w in judge.parameters)
