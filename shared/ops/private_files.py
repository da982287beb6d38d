"""Files only their owner may read: credentials and init material in a data dir."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from shared.errors import ConfigurationError

__all__ = ["private_dir", "write_private"]


def private_dir(path: Path) -> Path:
    """Create ``path`` (0700) if missing; refuse one that others may write to or that is
    not ours, where another user could plant files or links among our secrets."""
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = path.lstat()
    except OSError as exc:
        raise ConfigurationError(f"cannot use {path} as a data dir: {exc.strerror}") from None
    if not stat.S_ISDIR(info.st_mode):
        raise ConfigurationError(f"{path} is not a directory")
    if info.st_uid != os.getuid() or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise ConfigurationError(
            f"{path} is writable by others or not yours: use a private directory (0700)"
        )
    return path


def write_private(path: Path, data: bytes | str) -> None:
    """Write ``data`` to ``path``, mode 0600 from the first byte, replacing it atomically.

    The temporary file is created exclusively with an unpredictable name (no planted file
    or link is ever opened), then renamed over: a reader never sees a half-written file or
    a moment of wider permissions, and a crash leaves the old content in place.
    """
    raw = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), 0o600)
            f.write(raw)
            f.flush()
            os.fsync(f.fileno())
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
