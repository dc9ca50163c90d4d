"""`line_guard.scan`'s two readings of a block, the compiled loop and numpy's passes (for a file's
first block), give the same line ends and the same verdicts, on generated blocks."""

from __future__ import annotations

import numpy as np
from fuzzing import FAST
from hypothesis import example, given
from hypothesis import strategies as st

from pipeline.ingest import line_guard

# the bytes the verdicts turn on (digits, brackets, NUL), and others
LINE = st.lists(st.sampled_from([b"9", b"0", b"[", b"{", b"]", b"\x00", b"a", b" ", b'"', b"99999"]), max_size=30)


@FAST
@given(lines=st.lists(LINE, min_size=1, max_size=8), max_brackets=st.integers(0, 4), long_digits=st.integers(1, 6))
@example(lines=[[b"99999", b"9"], [b"a"]], max_brackets=1, long_digits=6)  # a run of six digits, alone on its line
def test_numpys_passes_give_the_compiled_loops_answer(lines, max_brackets, long_digits):
    block = b"".join(b"".join(line) + b"\n" for line in lines)
    data = np.frombuffer(block, dtype=np.uint8)
    compiled = line_guard._scan(data, max_brackets, long_digits, line_guard._DIGIT, line_guard._BRACKET,
                                line_guard._NUL)
    arrays = line_guard._scan_arrays(data, max_brackets, long_digits)
    assert compiled[0].tolist() == arrays[0].tolist()
    assert compiled[1].tolist() == arrays[1].tolist()


def test_scan_takes_either_reading():
    block = b'{"a": [1, 2]}\n' + b"1" * 19 + b"\n\x00\n"
    for compiled in (True, False):
        ends, fast = line_guard.scan(block, 64, compiled=compiled)
        assert ends.tolist() == [13, 33, 35] and fast.tolist() == [True, False, False]
