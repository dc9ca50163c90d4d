"""Work the app starts on the user's behalf, outside Streamlit so it can be tested:
the background annotation job (a CLI process), an upload saved under a stable name, and a
judge's weights as a zip of fitted_paras files."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from .store import db as dbmod
from .store.location import redact

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class AnnotateJob:
    """One `python -m pipeline annotate` run, as the Annotate page starts it: an uploaded file
    (input_path), or the stored pairs without annotations (input_path None; where / sample)."""

    input_path: str | None
    db: str
    model: str
    max_pairs: int | None = None
    concurrency: int | None = None
    batch: bool = False
    retry_failed: bool = False
    where: str | None = None
    sample: int | None = None
    seed: int = 0

    def command(self) -> list[str]:
        source = [self.input_path] if self.input_path else []
        cmd = [sys.executable, "-m", "pipeline", "annotate", *source, "--db", self.db, "--model",
               self.model, "--yes"]
        if not self.input_path:  # stored pairs: the CLI checks the condition again
            if self.where and self.where.strip():
                cmd.append(f"--where={self.where.strip()}")  # one token: a condition may start with "-"
            if self.sample:
                cmd += ["--sample", str(int(self.sample)), "--seed", str(int(self.seed))]
        if self.max_pairs:
            cmd += ["--max-pairs", str(int(self.max_pairs))]
        if self.concurrency:
            cmd += ["--concurrency", str(int(self.concurrency))]
        if self.batch:
            cmd.append("--batch")
        if self.retry_failed:
            cmd.append("--retry-failed")
        return cmd


def annotate_log(db) -> Path:
    """Where the app's annotation jobs write their output: <db>.annotate.log."""
    return Path(str(dbmod.resolve_db_path(db)) + ".annotate.log")


def start_annotate(job: AnnotateJob) -> subprocess.Popen:
    """Start the job as its own process (its own session: it outlives the app's rerun, and a
    stop of the app does not kill it), appending its output to the log.

    It runs in the app's working folder, so that a relative --db, a lake's DuckDB-file
    catalog and a PostgreSQL lake's side files (data/lakes/...) are the ones the app reads."""
    log_path = annotate_log(job.db)
    log_path.parent.mkdir(parents=True, exist_ok=True)  # a PostgreSQL lake's side-file folder
    cmd = job.command()
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    with open(log_path, "ab") as log:
        log.write(f"\n$ {redact(' '.join(cmd[1:]))}\n".encode())  # a catalog's password stays out
        log.flush()
        return subprocess.Popen(cmd, cwd=os.getcwd(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, env=dict(os.environ, PYTHONUNBUFFERED="1", PYTHONPATH=path))


def log_tail(db, lines: int = 40) -> str | None:
    """The last lines of the jobs' log, or None when there is none."""
    path = annotate_log(db)
    if not path.exists():
        return None
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def save_upload(content: bytes, name: str, folder: Path) -> Path:
    """An uploaded file saved as <folder>/<sha256 prefix>_<safe name>: the same upload
    gets the same path (so a rerun or a retry finds the job's input), and the name cannot
    leave the folder."""
    digest = hashlib.sha256(content).hexdigest()[:12]
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in Path(name).name)[-80:]
    path = folder / f"{digest}_{safe}"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return path


def uploads_folder(db) -> Path:
    return dbmod.resolve_db_path(db).parent / "uploads"


def weights_zip(db, judge: str) -> bytes:
    """A judge's weights as fitted_paras files (one per group), zipped."""
    from .model.fitted_paras import export_fits

    with tempfile.TemporaryDirectory() as tmp:
        files = export_fits(Path(tmp) / "fitted_paras", db=db, sources=None, judges=[judge])
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            for f in files:
                z.write(f, arcname=f"fitted_paras/{f.name}")
        return buf.getvalue()
