"""Keeping numba's on-disk cache of the kernels in step with the code they inline.

numba reuses a cached compiled function as long as the file that defines it is unchanged;
it does not notice when a function it calls from another module changes (a documented
limit of ``cache=True``). The kernels inline the rules (``rules.py``), the generator
(``rng.py``) and the flag bits (``state.py``), so an edited rule would otherwise keep
running in its old compiled form and the backends would silently drift apart. Before
the first call, :func:`drop_stale` compares a hash of those sources with the one
recorded next to the cache and, if they differ, deletes the kernels' cache files so
numba compiles afresh.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

__all__ = ["cache_directory", "drop_stale", "source_hash"]

STAMP_NAME = "serviceprofit-kernel-sources.sha256"


def source_hash(modules: list[Any]) -> str:
    """SHA-256 over the source files of ``modules``, in the order given."""
    digest = hashlib.sha256()
    for module in modules:
        digest.update(Path(module.__file__).read_bytes())
    return digest.hexdigest()


def cache_directory(dispatcher: Any) -> Path | None:
    """Where numba keeps the cache of a ``cache=True`` compiled function (None if not one)."""
    path = getattr(getattr(dispatcher, "_cache", None), "cache_path", None)
    return Path(path) if path else None


def drop_stale(dispatcher: Any, prefix: str, modules: list[Any]) -> bool:
    """Delete the cache files starting with ``prefix`` if ``modules`` changed since they
    were written; return whether anything was dropped.

    ``dispatcher`` is any cached function of the kernel module: it tells where numba
    keeps the cache. A cache directory that cannot be written is left alone.
    """
    directory = cache_directory(dispatcher)
    if directory is None:
        return False
    stamp = directory / STAMP_NAME
    current = source_hash(modules)
    try:
        if stamp.exists() and stamp.read_text().strip() == current:
            return False
        dropped = False
        for entry in directory.glob(f"{prefix}*"):
            if entry.suffix in (".nbi", ".nbc"):
                entry.unlink(missing_ok=True)
                dropped = True
        directory.mkdir(parents=True, exist_ok=True)
        stamp.write_text(current + "\n")
    except OSError:
        return False
    return dropped
