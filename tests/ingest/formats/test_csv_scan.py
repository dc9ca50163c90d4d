"""The compiled CSV check (pipeline/ingest/formats/csv_scan.py) on generated files: it gives the
same answer whatever the block size, and whenever it gives (fields, rows), Python's reader
(`files._csv`) and DuckDB's read_csv, called as `arena55k_scan.staging` calls it, split the file into
that many rows of that many fields with the same values (DuckDB reads an empty field as NULL,
Python as ''). Hand-written files show that it accepts ordinary CSV and refuses the rest."""

import duckdb
import pytest
from fuzzing import FAST
from hypothesis import event, example, given
from hypothesis import strategies as st

from pipeline.ingest.formats import arena55k_scan, csv_scan, files

# Long quoted fields put their special bytes past whole 64-bit words (the scan skips those eight at a time)
LONG = ['"' + "a" * 13 + '""' + "b" * 17 + '"', '"' + "c" * 11 + "\n" + "d" * 20 + '"', '"' + "p" * 24 + '"']
GOOD = ["a", "xyz", " b ", "1.5", "é", "中文", "😀", "\u2028", "", "",
        '"a"', '"a""b"', '"a,b"', '"a\nb"', '""""', '"\n"', '""', '",\n,"', '"\n\n"', *LONG]
ODD = ['a"b', 'a"', '"a"x', '"a" ', "a\rb", '"a\rb"', '"a\r\nb"', '"abc', '"', "\x00",
       '"' + "e" * 12 + "\r" + "f" * 9 + '"', '"' + "g" * 15 + "\x00" + "h" * 8 + '"', '"' + "i" * 30]


def _named(field: str, i: int) -> str:
    """A header field made unique (DictReader keeps the last of equal names): `h{i}` at its end."""
    if len(field) > 1 and field[0] == field[-1] == '"':
        return f"{field[:-1]}h{i}\""
    return f"{field}h{i}"


@st.composite
def csv_files(draw) -> bytes:
    clean = draw(st.booleans())  # only well-formed pieces, one width, one ending: mostly accepted
    field = st.sampled_from(GOOD if clean else GOOD + ODD)
    n = draw(st.integers(1, 4))
    header = [_named(f, i) for i, f in enumerate(draw(st.lists(field, min_size=n, max_size=n)))]
    widths = draw(st.lists(st.sampled_from([0, n] if clean else [0, n - 1, n, n + 1]), max_size=6))
    lead = [[]] * draw(st.sampled_from([0, 0, 0, 1]))  # a blank line before the header, at times
    rows = lead + [header] + [draw(st.lists(field, min_size=w, max_size=w)) for w in widths]
    ending = draw(st.sampled_from(["\n", "\r\n"]))
    ends = [ending if clean else draw(st.sampled_from(["\n", "\r\n", "\r"])) for _ in rows]
    if draw(st.booleans()):
        ends[-1] = ""  # no newline at the end
    return "".join(",".join(row) + end for row, end in zip(rows, ends)).encode("utf-8")


def duckdb_rows(path, n: int) -> list[tuple]:
    with duckdb.connect() as con:
        rows = con.execute(f"SELECT * FROM {arena55k_scan.csv_reader(n)}", [str(path)]).fetchall()
    return [tuple("" if v is None else v for v in row) for row in rows]


def check(path) -> tuple[int, int] | None:
    """scan's answer, after checking it is the same in small blocks and that both readers agree."""
    found = csv_scan.scan(path)
    for block in (1, 2, 3, 7):
        assert csv_scan.scan(path, block=block) == found, block
    if found is not None:
        n, count = found
        python = list(files._csv(path))
        assert len(python) == count
        assert all(len(row) == n and None not in row and None not in row.values() for row in python)
        assert duckdb_rows(path, n) == [tuple(row.values()) for row in python]
    return found


@FAST
@given(csv_files())
@example(b"a,b\r\n1,\"x\ny\"\r\n\r\n")
# Disagreements this test found (the readers split them apart; csv_scan now refuses them):
@example(b"\na\n")          # a blank line before the header: Python's header is [] and 'a' a row
@example(b"a\n\n")          # one column: DuckDB reads a blank line as a row of NULL, Python skips it
@example(b'"\n"\r\nx')      # a quoted newline in the header of a CRLF file: DuckDB reads no rows
def test_what_the_scan_accepts_both_readers_split_alike(tmp_path, data):  # one file, rewritten
    path = tmp_path / "x.csv"
    path.write_bytes(data)
    event("accepted" if check(path) is not None else "refused")


ACCEPTED = {
    b"a,b\n1,2\n3,4\n": (2, 2),
    b"a,b\r\n1,2\r\n": (2, 1),
    b'a,b\n"x\ny","p""q"\n"",\n': (2, 2),   # a quoted newline and quote, empty fields
    b'a,b\r\n"1\n2",\xc3\xa9': (2, 1),         # a quoted newline in a CRLF file, UTF-8
    b"a,b\n1,2\n\n\n3,4": (2, 2),             # blank lines skipped, no newline at the end
    b"a,b,c\n": (3, 0),
}
REFUSED = [
    b'a,b\n1,x"y\n',      # a quote in an unquoted field
    b'a,b\n"a"x,2\n',     # text after a closing quote
    b"a,b\n1\r2,3\n",     # a lone carriage return
    b'a,b\n"1\r2",3\n',   # ... inside quotes too
    b"a,b\n1,2\r\n",      # records ending both ways
    b"a,b\n1\n",          # a short row
    b"a,b\n1,2,3\n",      # a long row
    b'a,b\n"1,2\n',       # a quote left open
    b"a,b\n1,\x002\n",    # a NUL byte
    b"",
    b"\na,b\n1,2\n",      # a blank line before the header
    b"a\nx\n\ny\n",        # a blank line in a file of one column
    b'"a\nb",c\n1,x\n',    # a header spanning lines
]


@pytest.mark.parametrize("data", ACCEPTED)
def test_ordinary_files_are_accepted(tmp_path, data):
    path = tmp_path / "x.csv"
    path.write_bytes(data)
    assert check(path) == ACCEPTED[data]


@pytest.mark.parametrize("data", REFUSED)
def test_files_the_readers_split_apart_are_refused(tmp_path, data):
    path = tmp_path / "x.csv"
    path.write_bytes(data)
    assert check(path) is None


@pytest.mark.parametrize("special", ['"', "\r", "\x00", "\n"])
def test_a_byte_that_matters_is_seen_anywhere_in_a_long_quoted_field(tmp_path, special):
    """The scan skips plain bytes of a quoted field eight at a time: at every alignment, in the
    header and in a row, it gives what it gives byte by byte (blocks of one byte)."""
    path = tmp_path / "x.csv"
    for lead in range(8):
        for at in range(20):
            field = '"' + "a" * at + special + "b" * 19 + '"'
            for data in (f"h{'x' * lead},{field}\n1,2\n", f"h1,h2\n{'x' * lead},{field}\n"):
                path.write_bytes(data.encode())
                assert csv_scan.scan(path) == csv_scan.scan(path, block=1), (lead, at, data)


@pytest.mark.parametrize("special", [",", '"', "\r", "\x00", "\n"])
def test_a_byte_that_matters_is_seen_anywhere_in_a_long_unquoted_field(tmp_path, special):
    """Plain bytes of an unquoted field are skipped eight at a time too, up to a comma, quote or
    line end: at every alignment, in the header and in a row, the answer is the byte-by-byte one."""
    path = tmp_path / "x.csv"
    for lead in range(8):
        for at in range(20):
            field = "a" * (at + 1) + special + "b" * 19
            for data in (f"h{'x' * lead},{field}\n1,2\n", f"h1,h2\n{'x' * lead},{field}\n",
                         f"h1,h2,h3\n{'x' * lead},{field}\n"):
                path.write_bytes(data.encode())
                assert csv_scan.scan(path) == csv_scan.scan(path, block=1), (lead, at, data)
