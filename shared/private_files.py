"""Files only their owner may read: credentials and init material in a data dir."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["write_private"]


def write_private(path: Path, data: bytes | str) -> None:
    """Write ``data`` to ``path``, mode 0600 from the first byte, replacing it atomically.

    Written beside and renamed over: a reader never sees a half-written file or a moment
    of wider permissions, and a crash leaves the old content in place.
    """
    raw = data.encode("utf-8") if isinstance(data, str) else data
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(raw)
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)
