"""A disk that will not take more bytes (`errors.no_room`, `errors.NoRoom`): a write ends in one
line with nothing written; a load's scratch file without room sends the files row by row.

The end-to-end tests cap the size of every file a CLI process may write (RLIMIT_FSIZE, the
signal it raises ignored), so the file system refuses a write as a full disk would, with
"File too large" instead of "No space left on device".
"""

import csv
import errno
import hashlib
import lzma
import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import duckdb
from hypothesis import given
from hypothesis import strategies as st

from pipeline.store import errors, extensions

ROOT = Path(__file__).resolve().parents[2]
REASONS = [os.strerror(code) for code in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)]
paths = st.text(st.characters(blacklist_characters='"\x00', blacklist_categories=("Cs",)), min_size=1, max_size=60)


@given(path=paths, reason=st.sampled_from(REASONS), fatal=st.booleans())
def test_duckdb_s_words_for_a_full_disk_are_read_with_the_file_it_named(path, reason, fatal):
    if fatal:  # a checkpoint that failed at COMMIT
        exc = duckdb.FatalException(f'FATAL Error: Failed to create checkpoint because of error: '
                                    f'Could not write file "{path}": {reason}')
    else:
        exc = duckdb.IOException(f'IO Error: Could not write file "{path}": {reason}')
    assert errors.no_room(exc) == (reason, path)


@given(path=paths, words=st.sampled_from(["Permission denied", "Input/output error", "Read-only file system"]))
def test_other_io_errors_and_other_kinds_are_not_a_full_disk(path, words):
    assert errors.no_room(duckdb.IOException(f'IO Error: Could not write file "{path}": {words}')) is None
    assert errors.no_room(RuntimeError(f'Could not write file "{path}": {REASONS[0]}')) is None  # not DuckDB's
    assert errors.no_room(OSError(errno.EACCES, words, path)) is None


def test_python_s_own_refusals_name_the_file_being_written():
    refused = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "/data/a.duckdb", None, "/data/.a.duckdb.building-1")
    assert errors.no_room(refused) == (os.strerror(errno.ENOSPC), "/data/.a.duckdb.building-1")
    line = str(errors.room_refused(refused, "/data/a.duckdb"))
    assert line == (f"/data/a.duckdb: no room to write ({os.strerror(errno.ENOSPC)}) in /data: nothing was written; "
                    "make room there and run it again")


def test_a_full_temporary_folder_is_named_as_tmpdir(tmp_path, monkeypatch):
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path / "tmp"))
    exc = duckdb.IOException(f'IO Error: Could not write file "{tmp_path}/tmp/prefdissect-load-1-x/scan.duckdb": '
                             f'{REASONS[0]}')
    line = str(errors.room_refused(exc, tmp_path / "db" / "a.duckdb"))
    assert f"in the temporary folder {tmp_path / 'tmp'} (TMPDIR)" in line
    # the database's own folder is named as such, even inside the temporary folder
    exc = duckdb.IOException(f'IO Error: Could not write file "{tmp_path}/tmp/.a.duckdb.building-1": {REASONS[0]}')
    assert f"in {tmp_path / 'tmp'}: nothing" in str(errors.room_refused(exc, tmp_path / "tmp" / "a.duckdb"))


def _pairs_csv(path: Path, n: int) -> Path:
    """n short pairs: more than a row group, so the load's scratch file writes them out (about
    twice the database's size: its texts are uncompressed there)."""
    with open(path, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["prompt", "response_a", "response_b", "winner"])
        for i in range(n):
            out.writerow([f"q{i}", f"first answer number {i} here", f"second answer number {i} here",
                          "model_a" if i % 3 else "model_b"])
    return path


def _load_capped(source: Path, db, tmp: Path, cap: int, *options: str) -> subprocess.CompletedProcess:
    """`load` in a process whose files may not grow past `cap` bytes."""
    def capped():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write fails (EFBIG) instead of the process
        resource.setrlimit(resource.RLIMIT_FSIZE, (cap, cap))

    tmp.mkdir(exist_ok=True)
    return subprocess.run([sys.executable, "-m", "pipeline", *options, "load", str(source), "--db", str(db)], cwd=ROOT,
                          env={**os.environ, "TMPDIR": str(tmp), "COLUMNS": "400"}, preexec_fn=capped,
                          capture_output=True, text=True, timeout=300)


def test_a_database_without_room_is_left_as_it_was_in_one_line(tmp_path):
    db, tmp = tmp_path / "a.duckdb", tmp_path / "tmp"
    small = _load_capped(_pairs_csv(tmp_path / "small.csv", 50), db, tmp, 1 << 40)
    assert small.returncode == 0, small.stderr
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    # the database takes 2.6 MB, and 5.8 MB with 20,000 more pairs: past a 4 MB cap
    done = _load_capped(_pairs_csv(tmp_path / "big.csv", 20_000), db, tmp, 4_000_000)
    output = done.stdout + done.stderr
    assert done.returncode == errors.NoRoom.exit_code, output
    assert "Traceback" not in output
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and os.strerror(errno.EFBIG) in lines[0], output
    assert "nothing was written" in lines[0]
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before  # byte for byte
    assert not list(tmp_path.glob(".a.duckdb.building*")) and not list(tmp.glob("prefdissect-load-*"))


def test_a_scratch_file_without_room_sends_the_files_row_by_row_and_says_so(tmp_path):
    db, tmp, source = tmp_path / "a.duckdb", tmp_path / "tmp", _pairs_csv(tmp_path / "big.csv", 130_000)
    # the scratch file needs over 20 MB (seen), the database 9.4 MB: a 14 MB cap refuses only the first
    done = _load_capped(source, db, tmp, 14_000_000)
    assert done.returncode == 0, done.stderr
    output = done.stdout + done.stderr
    assert "130000 rows, 130000 new raw pairs" in output
    assert (f"read row by row, more slowly: the load's scratch file found no room in the temporary folder {tmp} "
            f"(TMPDIR): {os.strerror(errno.EFBIG)}") in output
    assert not list(tmp.glob("prefdissect-load-*"))
    # every row stored as the file has it (the two paths are compared table by table elsewhere:
    # tests/ingest/test_raw_bulk*.py)
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*), count(*) FILTER (query = 'q' || source_index AND response_1 = "
                           "'first answer number ' || source_index || ' here' OR response_2 = 'first answer number ' "
                           "|| source_index || ' here') FROM pairs").fetchone() == (130_000, 130_000)
        assert con.execute("SELECT count(*) FROM labels").fetchone()[0] == 130_000


def test_an_archive_whose_plain_copy_finds_no_room_is_read_row_by_row_and_says_so(tmp_path):
    """DuckDB reads neither bzip2 nor xz, so the load decompresses such a file into its scratch
    folder first; without room for that copy, the file is read row by row as before."""
    plain = tmp_path / "long.csv"
    with open(plain, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["prompt", "response_a", "response_b", "winner"])
        for i in range(8000):  # quotes, doubled in a CSV: 69 MB of file, whose rows take a 43 MB log to store
            out.writerow([f"q{i}", f"first {i} " + '"' * 2500, f"second {i} " + "'\"" * 1200,
                          "model_a" if i % 3 else "model_b"])
    source = tmp_path / "long.csv.xz"
    source.write_bytes(lzma.compress(plain.read_bytes()))
    db, tmp = tmp_path / "a.duckdb", tmp_path / "tmp"
    done = _load_capped(source, db, tmp, 55_000_000)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "8000 rows, 8000 new raw pairs" in output
    assert (f"read row by row, more slowly: the load's scratch file found no room in the temporary folder {tmp} "
            f"(TMPDIR): {os.strerror(errno.EFBIG)}") in output
    assert not list(tmp.glob("prefdissect-load-*"))
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*), count(DISTINCT query) FROM pairs").fetchone() == (8000, 8000)


def test_a_lake_whose_data_path_has_no_room_commits_no_snapshot(tmp_path):
    """A DuckDB-file catalog (a PostgreSQL one writes its data files the same way)."""
    lake, data, tmp = f"ducklake:{tmp_path / 'l.ducklake'}", tmp_path / "data", tmp_path / "tmp"
    first = _load_capped(_pairs_csv(tmp_path / "small.csv", 50), lake, tmp, 1 << 40, "--data-path", str(data))
    assert first.returncode == 0, first.stderr
    read = ("SELECT snapshot_id, commit_message FROM ducklake_snapshots('lake') ORDER BY 1",
            "SELECT count(*) FROM lake.pairs", "SELECT count(*) FROM lake.labels")

    def state():
        with extensions.lake_connection("duckdb") as con:  # the extension from its wheel
            con.execute(f"ATTACH '{lake}' AS lake (READ_ONLY, DATA_PATH '{data}')")
            return [con.execute(sql).fetchall() for sql in read]

    before = state()
    # a data file of 20,000 pairs passes 200 kB
    done = _load_capped(_pairs_csv(tmp_path / "big.csv", 20_000), lake, tmp, 200_000, "--data-path", str(data))
    output = done.stdout + done.stderr
    assert done.returncode == errors.NoRoom.exit_code and "Traceback" not in output, output
    lines = [line for line in output.splitlines() if line.strip()]
    assert lines[-1].startswith(f"error: {lake}: no room to write ({os.strerror(errno.EFBIG)}) in {data}")
    assert "no snapshot was committed" in lines[-1]
    assert state() == before
