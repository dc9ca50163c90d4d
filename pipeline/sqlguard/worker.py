"""The process one guarded query runs in: `python -I worker.py` reads a job (JSON) on stdin.

A separate process because DuckDB's string vectors live outside its memory_limit: one
chunk of `repeat('x', 1000000)` rows is a gigabyte before any check in Python could
look at it. Here a watchdog ends the process when its resident memory grows past the
job's budget (the parent watches as well), the operating system caps the address space
as a backstop (RLIMIT_AS), DuckDB caps its buffers (memory_limit) and its spill files
(max_temp_directory_size, in a private folder), and a timer interrupts the query and
then ends the process, so the time limit covers fetching and writing the result too.

The result goes to `<out>.arrow` (Arrow IPC, at most max_bytes) and the outcome to
`<out>.json`; `<out>.ready` appears once the database is attached (the parent's clock
for the time limit starts there). This module imports nothing from `pipeline`, so the
worker starts fast and `runner.connect_guarded` can share `open_guarded`.
"""

from __future__ import annotations

import json
import os
import random
import resource
import sys
import threading
import time

import duckdb


def open_guarded(path: str, alias: str, *, threads: int, memory_limit: str, temp_dir: str | None = None,
                 temp_limit: str | None = None, lock_wait: float = 5.0,
                 lake: dict | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with `path` attached READ_ONLY, external access off, settings locked.

    `lake` ({"load": [extension files], "attach": ATTACH statement}) attaches a DuckLake
    read-only at one snapshot instead; the runner writes both, never from user SQL."""
    config = {
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
        "allow_community_extensions": False,
        "allow_unsigned_extensions": False,
        "threads": threads,
        "memory_limit": memory_limit,
        "python_enable_replacements": False,   # no Python variable is a table here
    }
    if temp_dir:
        config["temp_directory"] = temp_dir
    if temp_limit:
        config["max_temp_directory_size"] = temp_limit
    con = duckdb.connect(":memory:", config=config)
    try:
        deadline = time.monotonic() + lock_wait
        delay = 0.02
        quoted = path.replace("'", "''")   # path and alias are the runner's, never user SQL
        for extension in (lake or {}).get("load", []):
            con.execute("LOAD '" + extension.replace("'", "''") + "'")
        attach = lake["attach"] if lake else f"ATTACH '{quoted}' AS \"{alias}\" (READ_ONLY)"
        while True:
            try:
                con.execute(attach)
                break
            except duckdb.Error as exc:
                text = str(exc).lower()  # DuckDB says "lock" only in its text (no error code), as db.is_lock_error reads it
                if "lock" not in text or time.monotonic() > deadline:
                    raise
                time.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, 0.5)
        con.execute(f'USE "{alias}"')
        if lake:  # the lake's own Parquet files stay readable, nothing else
            where = lake.get("data_path") or con.execute(
                "SELECT value FROM ducklake_options(?) WHERE option_name = 'data_path'", [alias]).fetchone()[0]
            con.execute("SET allowed_directories = [" + "'" + where.replace("'", "''") + "']")
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
    except BaseException:
        con.close()
        raise
    return con


def proc_bytes(field: str, pid: int | str = "self") -> int:
    """VmSize / VmRSS of a process from /proc (0 where there is no /proc)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _cap_address_space(budget: int) -> None:
    """A hard backstop: allocations past `budget` more address space fail (DuckDB: Out of Memory).

    Generous, because DuckDB and Arrow reserve address space well ahead of use; the
    resident-memory watchdog below is the bound that bites first.
    """
    size = proc_bytes("VmSize")
    if size and budget > 0:
        limit = size + budget
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _watch_memory(limit: int, status: str, finished: threading.Event) -> None:
    """End the process as soon as its resident memory passes `limit` (checked every 10 ms)."""
    def watch() -> None:
        while not finished.wait(0.01):
            if proc_bytes("VmRSS") > limit:
                _write(status, {"outcome": "memory"})
                os._exit(4)
    threading.Thread(target=watch, daemon=True).start()


def _write(path: str, payload: dict) -> None:
    tmp = f"{path}.{threading.get_ident()}.part"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(payload, fh)
    os.replace(tmp, path)


def _rows_within(batch, room: int) -> int:
    """How many leading rows of `batch` fit in `room` bytes (binary search over slices)."""
    lo, hi = 0, batch.num_rows
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if batch.slice(0, mid).nbytes <= room:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _collect(con, job: dict):
    """Arrow batches of the result, at most max_rows + 1 rows and max_bytes bytes."""
    import pyarrow as pa

    max_rows, max_bytes = int(job["max_rows"]), int(job["max_bytes"])
    if job["kind"] == "SELECT":
        reader = con.sql(job["sql"]).limit(max_rows + 1).to_arrow_reader(2048)
    else:
        table = con.execute(job["sql"]).to_arrow_table()
        reader = pa.RecordBatchReader.from_batches(table.schema, table.to_batches())
    batches, rows, size, cut_bytes = [], 0, 0, False
    for batch in reader:
        if size + batch.nbytes > max_bytes:
            keep = _rows_within(batch, max_bytes - size)
            if keep:
                batches.append(batch.slice(0, keep))
                rows += keep
            cut_bytes = True
            break
        batches.append(batch)
        rows += batch.num_rows
        size += batch.nbytes
        if rows > max_rows:
            break
    return reader.schema, batches, rows, cut_bytes


def main() -> int:
    job = json.loads(sys.stdin.read())
    out = job["out"]
    status = out + ".json"
    finished = threading.Event()
    import pyarrow  # noqa: F401 - loaded before the cap: mapping its libraries needs address space
    import pyarrow.ipc  # noqa: F401

    try:
        _cap_address_space(int(job["address_budget"]))
        base_rss = proc_bytes("VmRSS")
        con = open_guarded(job["db"], job["alias"], threads=int(job["threads"]),
                           memory_limit=job["memory_limit"], temp_dir=job["temp_dir"],
                           temp_limit=job["temp_limit"], lake=job.get("lake"))
    except MemoryError:
        _write(status, {"outcome": "memory"})
        return 0
    except Exception as exc:  # noqa: BLE001 - reported to the parent as one line
        _write(status, {"outcome": "failed", "error": str(exc), "error_type": type(exc).__name__})
        return 0

    timed_out = threading.Event()

    def stop() -> None:
        # First ask DuckDB to stop; if fetching or writing still runs a moment later, end the process.
        timed_out.set()
        con.interrupt()
        if not finished.wait(1.0):
            _write(status, {"outcome": "timeout"})
            os._exit(3)

    # Resident memory may grow by rss_budget from here on (the parent watches too).
    _watch_memory(base_rss + int(job["rss_budget"]), status, finished)
    with open(out + ".ready", "w", encoding="ascii") as fh:
        fh.write(str(base_rss))
    timer = threading.Timer(float(job["timeout_s"]), stop)
    timer.daemon = True
    t0 = time.perf_counter()
    timer.start()
    try:
        import pyarrow as pa

        schema, batches, rows, cut_bytes = _collect(con, job)
        with pa.OSFile(out + ".arrow", "wb") as sink, pa.ipc.new_file(sink, schema) as writer:
            for batch in batches:
                writer.write_batch(batch)
        payload = {"outcome": "ok", "rows": rows, "cut_bytes": cut_bytes}
    except duckdb.InterruptException:
        payload = {"outcome": "timeout"}
    except (MemoryError, duckdb.OutOfMemoryException) as exc:
        payload = {"outcome": "memory", "error": str(exc)}
    except Exception as exc:  # noqa: BLE001 - DuckDB / Arrow errors go back as one line
        text = str(exc)
        if timed_out.is_set() or text.startswith("INTERRUPT"):
            payload = {"outcome": "timeout"}
        else:
            payload = {"outcome": "memory" if "Out of Memory" in text else "failed",
                       "error": text, "error_type": type(exc).__name__}
    payload["seconds"] = time.perf_counter() - t0
    finished.set()
    timer.cancel()
    _write(status, payload)
    os._exit(0)   # skip interpreter teardown of big objects: the parent only needs the files


if __name__ == "__main__":
    sys.exit(main())
