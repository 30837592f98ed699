"""One billing command at a time per warehouse.

A close runs as several steps (load, dbt build, finalization, PDFs, webhooks), each opening the
DuckDB file on its own, so that dbt never meets a second writer in this process. DuckDB's own
file lock only covers one open connection: between two steps another command could open the
file, and the running close would then fail half-way with DuckDB's lock message. Each command
that writes therefore takes an advisory lock on ``<warehouse>.lock`` for its whole run; a second
command on the same warehouse is refused at once with one line naming the one that runs.
"""

from __future__ import annotations

import fcntl
import os
from datetime import UTC, datetime
from pathlib import Path

from billing.errors import BillingError

_held: dict[str, int] = {}  # lock path -> file descriptor, kept open until the process ends


def lock_path(warehouse: Path | str) -> Path:
    path = Path(warehouse)
    return path.with_name(path.name + ".lock")


def hold(warehouse: Path | str, command: str) -> None:
    """Take the warehouse's lock for the rest of this process, or raise ``BillingError``."""
    path = lock_path(warehouse)
    key = str(path)
    if key in _held:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 300, 0).decode("utf-8", "replace").strip() or "another process"
        os.close(fd)
        raise BillingError(
            f"warehouse {warehouse} is in use by another billing command ({holder}); "
            "run this one when it has finished"
        ) from None
    started = datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"billing {command}, pid {os.getpid()}, since {started}".encode(), 0)
    _held[key] = fd
