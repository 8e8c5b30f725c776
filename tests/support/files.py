"""Making a file or directory read-only, also for root (whom permission bits do not stop)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def read_only(path: Path) -> Iterator[None]:
    """Within the block, ``path`` cannot be written by this user: its mode drops the write bits
    and, for root, it is also made immutable (``chattr +i``; skipped where that is not possible)."""
    mode = path.stat().st_mode
    path.chmod(mode & ~0o222)
    immutable = False
    try:
        if os.geteuid() == 0:
            chattr = shutil.which("chattr")
            if (
                chattr is None
                or subprocess.run([chattr, "+i", str(path)], capture_output=True, check=False).returncode != 0
            ):
                pytest.skip("running as root and cannot make a file immutable (chattr +i) here")
            immutable = True
        yield
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(path)], check=True)
        path.chmod(mode)
