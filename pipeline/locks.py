"""One run at a time per warehouse and output folder, even outside Dagster's run queue (two
`hiu run` commands, or a command and a UI run): DuckDB allows one writer, and two publishes into
one folder would interleave."""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path


class RunInProgress(RuntimeError):
    pass


@contextlib.contextmanager
def exclusive(*lock_paths: Path) -> Iterator[None]:
    """Hold an exclusive lock on each lock file, or fail at once naming it."""
    with contextlib.ExitStack() as stack:
        for lock_path in lock_paths:
            lock_path = Path(lock_path).resolve()
            lock_path.parent.mkdir(parents=True, exist_ok=True)
            handle = stack.enter_context(lock_path.open("a"))
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise RunInProgress(f"another run holds {lock_path}") from None
        yield
