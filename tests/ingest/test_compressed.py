"""Inputs as published: .gz, .bz2, .xz and .zst files load as their plain versions do, and a
truncated or corrupt archive ends in one line naming the file and how far it was read."""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
import tracemalloc
from pathlib import Path

import pytest
import zstandard
import duckdb
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import ALPACA_EVAL, HH_RLHF
from fuzzing import CASES, case_db, one_line_error, run_or_refuse_cleanly
from pipeline.annotation import read_pairs
from pipeline.ingest import compressed, formats, line_guard, sources
from pipeline.ingest.loader import load_source
from pipeline.judges import parse_labels_file
from pipeline.ingest.sources import SourceError

FIXTURES = Path(__file__).resolve().parent / "formats" / "fixtures"
PLAIN = sorted(p for p in FIXTURES.iterdir() if p.suffix in (".json", ".jsonl", ".csv"))
COMPRESS = {".gz": gzip.compress, ".bz2": bz2.compress, ".xz": lzma.compress,
            ".zst": lambda b: zstandard.ZstdCompressor(write_checksum=False).compress(b)}
GENERATED = settings(deadline=None, derandomize=True, database=None, max_examples=60)


def packed(path: Path, suffix: str, folder: Path, content: bytes | None = None) -> Path:
    out = folder / (path.name + suffix)
    out.write_bytes(COMPRESS[suffix](path.read_bytes() if content is None else content))
    return out


def rows(path: Path) -> list:
    table = formats.open_table(path)
    return list(table.rows)


# ------------------------------------------------------------------ every format, every codec

def detected(path: Path) -> str:
    try:
        return formats.detect(path)
    except formats.NoFormat as exc:  # the generic CSV needs its column options: the same reason, either way
        return str(exc).removeprefix(str(path))


@pytest.mark.parametrize("suffix", sorted(COMPRESS))
@pytest.mark.parametrize("plain", PLAIN, ids=lambda p: p.name)
def test_every_fixture_reads_the_same_compressed(plain, suffix, tmp_path):
    archive = packed(plain, suffix, tmp_path)
    assert detected(archive) == detected(plain)
    assert rows(archive) == rows(plain)
    assert rows(archive)


@pytest.mark.parametrize("suffix", sorted(COMPRESS))
def test_a_compressed_load_stores_what_the_plain_one_does(suffix, tmp_path):
    plain = FIXTURES / "hh_rlhf.jsonl"
    one, two = tmp_path / "plain.duckdb", tmp_path / "packed.duckdb"
    a = load_source(str(plain), db=one, name="s")
    b = load_source(str(packed(plain, suffix, tmp_path)), db=two, name="s")
    assert (a.records, a.new_pairs, a.new_labels) == (b.records, b.new_pairs, b.new_labels) and a.new_pairs > 0


def test_a_folder_of_mixed_archives_loads_every_file(tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    for i, suffix in enumerate(sorted(COMPRESS)):
        lines = (FIXTURES / "hh_rlhf.jsonl").read_text().splitlines(keepends=True)
        packed(FIXTURES / "hh_rlhf.jsonl", suffix, folder, "".join(lines[i::4]).encode())
    (folder / "notes.txt.gz").write_bytes(gzip.compress(b"not data"))
    (folder / "x.parquet.gz").write_bytes(gzip.compress(b"not data"))
    display, files = formats.resolve(str(folder))
    assert sorted(f.name for f in files) == sorted(f"hh_rlhf.jsonl{s}" for s in COMPRESS)
    whole = sum(1 for line in (FIXTURES / "hh_rlhf.jsonl").read_text().splitlines() if line.strip())
    reading = formats.Reading("hh-rlhf", files, formats.Options())
    list(reading.pairs())
    assert reading.rows == whole


def test_a_compressed_parquet_or_unknown_file_is_refused(tmp_path):
    for name in ("x.parquet.gz", "x.txt.zst"):
        (tmp_path / name).write_bytes(gzip.compress(b"{}"))
        with pytest.raises(SourceError, match="unsupported file type"):
            formats.resolve(str(tmp_path / name))


def test_gzip_without_its_suffix_is_recognised_by_its_first_bytes(tmp_path):
    plain = FIXTURES / "arena_conversations.jsonl"
    hidden = tmp_path / "arena.jsonl"
    hidden.write_bytes(gzip.compress(plain.read_bytes()))
    assert rows(hidden) == rows(plain)


def test_a_file_named_as_an_archive_that_is_not_one_is_refused(tmp_path):
    fake = tmp_path / "pairs.jsonl.gz"
    fake.write_bytes((FIXTURES / "hh_rlhf.jsonl").read_bytes())
    with pytest.raises(SourceError) as err:
        rows(fake)
    assert str(err.value).startswith(f"{fake}: the gzip stream is not there") and "\n" not in str(err.value)


@pytest.mark.parametrize("suffix", sorted(COMPRESS))
def test_an_archive_cut_inside_its_first_bytes_ends_early(suffix, tmp_path):
    """Cut before its magic number is whole (a bz2 cut to 'BZ'): truncated, not 'not an archive'."""
    path = tmp_path / f"cut.jsonl{suffix}"
    path.write_bytes(COMPRESS[suffix](CONTENT)[:2])
    with pytest.raises(SourceError, match=r"ends early after 0 lines \(truncated archive\?\)"):
        list(sources.iter_jsonl(path))


def test_an_archive_is_read_as_a_stream(tmp_path):
    # 40 MB of JSON lines in a 0.2 MB archive: reading them must not hold them all.
    line = json.dumps({"chosen": "\n\nHuman: hi\n\nAssistant: " + "a" * 4000,
                       "rejected": "\n\nHuman: hi\n\nAssistant: b"}) + "\n"
    big = tmp_path / "big.jsonl.zst"
    with open(big, "wb") as f, zstandard.ZstdCompressor().stream_writer(f) as w:
        for _ in range(10_000):
            w.write(line.encode())
    line_guard.scan(b"{}\n", 64)  # numba's import and compiled code, before the measure: not the stream's
    tracemalloc.start()
    try:
        n = sum(1 for _ in sources.iter_jsonl(big))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert n == 10_000
    assert peak < 8 * 2**20, peak


@settings(GENERATED)
@given(content=st.binary(min_size=1, max_size=3000), suffix=st.sampled_from(sorted(COMPRESS)), cut=st.booleans())
def test_a_plain_copy_holds_the_archive_s_bytes_or_is_not_left(content, suffix, cut, tmp_path_factory):
    """What the bulk load hands DuckDB for an archive it cannot read (bzip2, xz): the content,
    byte for byte; a cut archive leaves no copy behind."""
    folder = tmp_path_factory.mktemp("copy")
    whole = COMPRESS[suffix](content)
    archive = folder / f"a.jsonl{suffix}"
    archive.write_bytes(whole[: len(whole) // 2] if cut else whole)
    target = folder / "plain.jsonl"
    if cut:
        with pytest.raises(compressed.ArchiveBroken):
            compressed.plain_copy(archive, target)
        assert not target.exists()
    else:
        assert compressed.plain_copy(archive, target).read_bytes() == content


def test_duckdb_reads_gzip_and_zstd_named_so_and_not_the_other_archives(tmp_path):
    plain = FIXTURES / "arena_conversations.jsonl"
    assert not compressed.duckdb_unread(plain)
    for suffix, unread in ((".gz", False), (".zst", False), (".bz2", True), (".xz", True)):
        assert compressed.duckdb_unread(packed(plain, suffix, tmp_path)) is unread, suffix
    hidden = tmp_path / "arena.jsonl"  # gzip without its suffix: DuckDB would read its bytes as text
    hidden.write_bytes(gzip.compress(plain.read_bytes()))
    assert compressed.duckdb_unread(hidden)


# ------------------------------------------------------------------ the real files, as published

def test_hh_rlhf_loads_from_its_published_gzip(shared_real, tmp_path):
    report = load_source(str(HH_RLHF), db=tmp_path / "hh.duckdb")
    assert report.records == 2312 and report.source == "harmless-base-test.jsonl.gz"
    assert report.new_pairs > 600 and report.judges == ["human"]


@pytest.mark.parametrize("suffix", [".xz", ".bz2"])
def test_hh_rlhf_recompressed_as_duckdb_cannot_read_stores_what_its_gzip_stores(suffix, shared_real, tmp_path,
                                                                                 monkeypatch):
    """The published file as bzip2 or xz: decompressed into the load's scratch folder and read by
    DuckDB (the SQL path, not row by row), every table as the published gzip's load has it."""
    from pipeline.ingest import raw_bulk

    from test_raw_bulk import contents  # tests/ingest (no packages here)

    taken = []
    real_prepare = raw_bulk.prepare
    monkeypatch.setattr(raw_bulk, "prepare", lambda *a, **k: taken.append(real_prepare(*a, **k)) or taken[-1])
    repacked = tmp_path / HH_RLHF.name.replace(".gz", suffix)
    repacked.write_bytes(COMPRESS[suffix](gzip.decompress(HH_RLHF.read_bytes())))
    reports = [load_source(str(path), db=tmp_path / f"{i}.duckdb", name="hh") for i, path in enumerate((HH_RLHF, repacked))]
    assert len(taken) == 2 and all(b is not None for b in taken)
    assert reports[0].skipped == reports[1].skipped and reports[1].new_pairs > 600
    assert contents(tmp_path / "0.duckdb") == contents(tmp_path / "1.duckdb")


def test_alpaca_eval_annotations_load_from_their_gzip(shared_real, tmp_path):
    path = ALPACA_EVAL / "claude-2.annotations.json.gz"
    assert formats.detect(path) == "alpaca-eval"
    report = load_source(str(path), db=tmp_path / "ae.duckdb")
    assert report.records == 805 and report.new_labels >= 800


# ------------------------------------------------------------------ labels files and annotate inputs

def test_annotate_reads_compressed_pairs(tmp_path):
    plain = tmp_path / "pairs.csv"
    plain.write_text("prompt,response_a,response_b\nq1,a1,b1\nq2,a2,b2\n")
    for suffix in COMPRESS:
        report = read_pairs(packed(plain, suffix, tmp_path))
        assert [(p.query, p.response_1, p.response_2) for p in report.pairs] == [("q1", "a1", "b1"), ("q2", "a2", "b2")]


def test_labels_file_compressed_reads_like_plain(tmp_path):
    demo_db = tmp_path / "db.duckdb"
    load_source(str(FIXTURES / "hh_rlhf.jsonl"), db=demo_db)
    plain = tmp_path / "labels.json"
    ids = [r[0] for r in duckdb.connect(str(demo_db), read_only=True).execute("SELECT pair_id FROM pairs").fetchall()]
    plain.write_text(json.dumps({str(i): 1 + i % 2 for i in ids}))
    want = parse_labels_file(plain, db=demo_db)
    assert not want.errors
    for suffix in COMPRESS:
        archive = packed(plain, suffix, tmp_path)
        got = parse_labels_file(archive, db=demo_db)
        assert (got.format, got.errors, got.labels) == (want.format, want.errors, want.labels)
        upload = parse_labels_file(archive.read_bytes(), archive.name, db=demo_db)  # the page's upload
        assert upload.labels == want.labels
    cut = tmp_path / "cut.json.xz"
    cut.write_bytes(lzma.compress(plain.read_bytes())[:-20])
    broken = parse_labels_file(cut, db=demo_db)
    assert broken.errors and "the xz stream ends early" in broken.errors[0].reason


# ------------------------------------------------------------------ generated damage

def _jsonl_text(n: int) -> bytes:
    return "".join(json.dumps({"chosen": f"\n\nHuman: q{i}\n\nAssistant: yes {i}",
                               "rejected": f"\n\nHuman: q{i}\n\nAssistant: no"}) + "\n" for i in range(n)).encode()


CONTENT = _jsonl_text(300)
WHOLE = [json.loads(line) for line in CONTENT.decode().splitlines()]


def _read_or_refuse(path: Path) -> list | None:
    """The rows, or None after checking the refusal is one line naming the file and how far."""
    try:
        return list(sources.iter_jsonl(path))
    except SourceError as exc:
        text = str(exc)
        assert "\n" not in text and text.startswith(str(path)), text
        assert "after " in text or "not there" in text or "not UTF-8" in text or "not valid JSON" in text, text
        return None


@GENERATED
@given(suffix=st.sampled_from(sorted(COMPRESS)), keep=st.floats(0, 0.999))
def test_generated_truncated_archives_are_refused_naming_how_far(tmp_path_factory, suffix, keep):
    CASES["compressed: truncated"] += 1
    data = COMPRESS[suffix](CONTENT)
    path = tmp_path_factory.mktemp("t") / f"cut.jsonl{suffix}"
    path.write_bytes(data[:int(len(data) * keep)])
    got = _read_or_refuse(path)
    assert got is None or got == [] and int(len(data) * keep) == 0
    if got is None and int(len(data) * keep) > 0:
        with pytest.raises(SourceError, match=r"ends early after [\d,]+ lines? \(truncated archive\?\)|is corrupt"):
            list(sources.iter_jsonl(path))


@GENERATED
@given(suffix=st.sampled_from(sorted(COMPRESS)), at=st.floats(0, 0.999), xor=st.integers(1, 255))
def test_generated_corrupt_archives_read_right_or_are_refused(tmp_path_factory, suffix, at, xor):
    CASES["compressed: corrupt"] += 1
    data = bytearray(COMPRESS[suffix](CONTENT))
    data[int(len(data) * at)] ^= xor
    path = tmp_path_factory.mktemp("c") / f"bad.jsonl{suffix}"
    path.write_bytes(bytes(data))
    got = _read_or_refuse(path)
    # A checksum-less codec (zstd here) can decode a flipped byte to other text: then it reads as
    # whatever it decodes to, which must still be whole records or a one-line refusal.
    assert got is None or got == WHOLE or suffix == ".zst" and all(isinstance(r, dict) for r in got)


@GENERATED
@given(suffix=st.sampled_from(sorted(COMPRESS)), cuts=st.lists(st.integers(1, 299), max_size=4, unique=True))
def test_generated_concatenated_archives_are_read_whole(tmp_path_factory, suffix, cuts):
    CASES["compressed: concatenated"] += 1
    lines = CONTENT.splitlines(keepends=True)
    bounds = [0, *sorted(cuts), len(lines)]
    data = b"".join(COMPRESS[suffix](b"".join(lines[a:b])) for a, b in zip(bounds, bounds[1:]))
    path = tmp_path_factory.mktemp("m") / f"many.jsonl{suffix}"
    path.write_bytes(data)
    assert list(sources.iter_jsonl(path)) == WHOLE


@pytest.fixture(scope="module")
def loaded_db(tmp_path_factory):
    db = tmp_path_factory.mktemp("base") / "base.duckdb"
    load_source(str(FIXTURES / "arena_conversations.jsonl"), db=db)
    return db


@settings(GENERATED, max_examples=12)
@given(suffix=st.sampled_from(sorted(COMPRESS)), keep=st.floats(0.05, 0.98), corrupt=st.booleans())
def test_generated_broken_archive_loads_leave_the_database_as_it_was(loaded_db, tmp_path_factory, suffix,
                                                                    keep, corrupt):
    CASES["compressed: load"] += 1
    folder, db, before = case_db(loaded_db, tmp_path_factory)
    data = bytearray(COMPRESS[suffix](CONTENT))
    if corrupt:
        data[int(len(data) * keep)] ^= 0x5A
    else:
        data = data[:int(len(data) * keep)]
    path = folder / f"hh.jsonl{suffix}"
    path.write_bytes(bytes(data))
    result = run_or_refuse_cleanly(["load", str(path), "--db", str(db)], db, before)
    if not corrupt:
        assert result.exit_code != 0 and one_line_error(result.output)
        assert str(path.name) in result.output


def test_codec_names():
    assert compressed.data_suffix("a/hh.jsonl.GZ") == ".jsonl"
    assert compressed.data_suffix("hh.csv") == ".csv"
    assert compressed.sniff(gzip.compress(b"x")) == "gzip" and compressed.sniff(b'{"a": 1}') is None
