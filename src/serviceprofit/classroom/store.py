"""One game in one SQLite file (``games/<id>/game.sqlite``): nothing lost between quarters.

What is saved, and when:

* at creation: the settings (market, seed, quarters, budget, leaderboard), the teams
  with their join codes and firms, and the facilitator token;
* at every submission: that team's decisions for the quarter (a later submission of
  the same quarter replaces it, until the quarter is played);
* at every quarter boundary, in one transaction: the quarter's number, the rows of
  every firm up to that boundary (the numeric columns as float64, bit for bit) and
  their digest (:func:`~.engine.digest`); only the last boundary's rows are kept, since
  each holds all weeks before it; and each industry's market state there (the market
  run's :class:`~.engine.Checkpoint`), kept for every boundary so that a "what if"
  from any quarter resumes from that quarter's start. A state is pickled with its
  arrays out of band (pickle protocol 5), and each array's bytes are stored once, by
  their SHA-256, zlib-compressed: what every state of a game shares (the customers'
  network, a third of a state's bytes) is written once, and industries that played
  alike share their whole state.

A restarted server opens the same file and finds the game at its last boundary; the
rows it reads back are the rows it saved, its next quarter resumes from the saved
state, and re-running the decisions reproduces the digest. The states are unpickled:
the file is the server's own (mode 0600 in a 0700 directory), never one a page sent.
Writes are transactions (WAL journal): a crash loses at most the request in flight,
never a half-saved quarter.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import sqlite3
import threading
import zlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from serviceprofit.classroom.engine import Checkpoint

__all__ = ["GAME_FILE", "SavedQuarter", "Store", "Team"]

GAME_FILE = "game.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS teams (
    number INTEGER PRIMARY KEY,
    firm TEXT NOT NULL UNIQUE,
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL DEFAULT '',
    joined TEXT
);
CREATE TABLE IF NOT EXISTS decisions (
    firm TEXT NOT NULL,
    quarter INTEGER NOT NULL,
    decisions TEXT NOT NULL,
    submitted TEXT NOT NULL,
    PRIMARY KEY (firm, quarter)
);
CREATE TABLE IF NOT EXISTS quarters (
    quarter INTEGER PRIMARY KEY,
    digest TEXT NOT NULL,
    played TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS rows (
    quarter INTEGER NOT NULL,
    firm TEXT NOT NULL,
    columns TEXT NOT NULL,
    weeks INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (quarter, firm)
);
CREATE TABLE IF NOT EXISTS buffers (sha256 TEXT PRIMARY KEY, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS states (
    sha256 TEXT PRIMARY KEY,
    skeleton BLOB NOT NULL,
    buffers TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS checkpoints (
    quarter INTEGER NOT NULL,
    industry INTEGER NOT NULL,
    week INTEGER NOT NULL,
    sha256 TEXT NOT NULL REFERENCES states (sha256),
    PRIMARY KEY (quarter, industry)
);
"""


@dataclass(frozen=True)
class Team:
    """A seat at the game: a team number, the firm it runs, its join code."""

    number: int
    firm: str
    code: str
    name: str
    joined: str | None


@dataclass(frozen=True)
class SavedQuarter:
    """The state at a quarter boundary: quarters played, rows per firm, their digest."""

    quarter: int
    digest: str
    rows: dict[str, pd.DataFrame]


class Store:
    """The game's SQLite file. One connection, used under a lock (the server's threads)."""

    def __init__(self, path: Path) -> None:
        if not path.parent.exists():
            path.parent.mkdir(parents=True, mode=0o700)
        self.path = path
        self._lock = threading.RLock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        # The SHA-256s of the arrays already stored (saved once, whichever state has them).
        self._buffers = {row[0] for row in self._db.execute("SELECT sha256 FROM buffers")}
        # It holds the join codes and the facilitator's token, and so do its journal files.
        for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            if file.exists():
                file.chmod(0o600)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # -- settings and teams ----------------------------------------------------------

    def is_new(self) -> bool:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM settings").fetchone()[0] == 0

    def create(self, settings: Mapping[str, Any], teams: list[Team]) -> None:
        """Write a new game's settings and seats, once."""
        with self._transaction() as db:
            if db.execute("SELECT COUNT(*) FROM settings").fetchone()[0]:
                raise FileExistsError(f"{self.path} already holds a game")
            db.executemany(
                "INSERT INTO settings VALUES (?, ?)",
                [(k, json.dumps(v)) for k, v in settings.items()],
            )
            db.executemany(
                "INSERT INTO teams (number, firm, code, name, joined) VALUES (?, ?, ?, ?, ?)",
                [(t.number, t.firm, t.code, t.name, t.joined) for t in teams],
            )

    def settings(self) -> dict[str, Any]:
        with self._lock:
            rows = self._db.execute("SELECT key, value FROM settings").fetchall()
        return {k: json.loads(v) for k, v in rows}

    def set_setting(self, key: str, value: Any) -> None:
        with self._transaction() as db:
            db.execute("INSERT OR REPLACE INTO settings VALUES (?, ?)", (key, json.dumps(value)))

    def teams(self) -> list[Team]:
        with self._lock:
            rows = self._db.execute(
                "SELECT number, firm, code, name, joined FROM teams ORDER BY number"
            ).fetchall()
        return [Team(*row) for row in rows]

    def mark_joined(self, firm: str, name: str, when: str) -> None:
        with self._transaction() as db:
            db.execute(
                "UPDATE teams SET name = ?, joined = COALESCE(joined, ?) WHERE firm = ?",
                (name, when, firm),
            )

    # -- decisions -------------------------------------------------------------------

    def save_decisions(
        self, firm: str, quarter: int, decisions: Mapping[str, Any], when: str
    ) -> None:
        with self._transaction() as db:
            played = db.execute("SELECT COALESCE(MAX(quarter), 0) FROM quarters").fetchone()[0]
            if quarter != played:
                raise ValueError(f"quarter {quarter + 1} is not open (quarter {played + 1} is)")
            db.execute(
                "INSERT OR REPLACE INTO decisions VALUES (?, ?, ?, ?)",
                (firm, quarter, json.dumps(dict(decisions)), when),
            )

    def decisions(self) -> dict[str, dict[int, dict[str, Any]]]:
        """Every saved decision: firm -> quarter -> levers."""
        with self._lock:
            rows = self._db.execute("SELECT firm, quarter, decisions FROM decisions").fetchall()
        out: dict[str, dict[int, dict[str, Any]]] = {}
        for firm, quarter, raw in rows:
            out.setdefault(firm, {})[quarter] = json.loads(raw)
        return out

    # -- quarter boundaries ----------------------------------------------------------

    def save_quarter(
        self,
        quarter: int,
        rows: Mapping[str, pd.DataFrame],
        digest: str,
        when: str,
        fill: Mapping[str, Mapping[str, Any]] = {},
        checkpoints: Mapping[int, Checkpoint] = {},
    ) -> None:
        """Save a boundary in one transaction, with the decisions it was played with for
        firms that had none saved (``fill``: preset rivals, teams that did not submit) and
        each industry's market state (``checkpoints``; none from an engine without)."""
        tables = []
        for firm, frame in rows.items():
            numbers = frame.select_dtypes("number")
            data = np.ascontiguousarray(numbers.to_numpy(dtype=np.float64)).tobytes()
            tables.append(
                (quarter, firm, json.dumps(list(map(str, numbers.columns))), len(frame), data)
            )
        states: dict[int, tuple[str, bytes, str]] = {}  # id of a state -> sha, skeleton, buffers
        buffers: dict[str, bytes] = {}  # new buffers: sha -> compressed bytes
        saved = []
        for industry, checkpoint in checkpoints.items():
            if id(checkpoint.state) not in states:
                states[id(checkpoint.state)] = self._pack(checkpoint.state, buffers)
            sha = states[id(checkpoint.state)][0]
            saved.append((quarter, industry, checkpoint.week, sha))
        with self._transaction() as db:
            played = db.execute("SELECT COALESCE(MAX(quarter), 0) FROM quarters").fetchone()[0]
            if quarter != played + 1:
                raise ValueError(f"quarter {quarter} does not follow quarter {played}")
            for firm, levers in fill.items():
                db.execute(
                    "INSERT OR IGNORE INTO decisions VALUES (?, ?, ?, ?)",
                    (firm, quarter - 1, json.dumps(dict(levers)), when),
                )
            db.execute("INSERT INTO quarters VALUES (?, ?, ?)", (quarter, digest, when))
            db.execute("DELETE FROM rows WHERE quarter < ?", (quarter,))
            db.executemany("INSERT INTO rows VALUES (?, ?, ?, ?, ?)", tables)
            db.executemany("INSERT OR IGNORE INTO buffers VALUES (?, ?)", buffers.items())
            db.executemany("INSERT OR IGNORE INTO states VALUES (?, ?, ?)", states.values())
            db.executemany("INSERT INTO checkpoints VALUES (?, ?, ?, ?)", saved)
        self._buffers.update(buffers)

    def _pack(self, state: Any, new: dict[str, bytes]) -> tuple[str, bytes, str]:
        """A state as (its SHA-256, the pickle without its arrays, the arrays' SHA-256s);
        arrays not yet stored are compressed into ``new``."""
        out_of_band: list[pickle.PickleBuffer] = []
        skeleton = pickle.dumps(state, protocol=5, buffer_callback=out_of_band.append)
        names = []
        for buffer in out_of_band:
            raw = buffer.raw()
            sha = hashlib.sha256(raw).hexdigest()
            if sha not in self._buffers and sha not in new:
                new[sha] = zlib.compress(raw, 1)
            names.append(sha)
        listed = json.dumps(names)
        sha = hashlib.sha256(skeleton + listed.encode()).hexdigest()
        return sha, skeleton, listed

    def checkpoints(self, quarter: int) -> dict[int, Checkpoint]:
        """Each industry's market state at the end of ``quarter`` (1-based); empty if none
        was saved. Industries that shared a state get the same object."""
        with self._lock:
            found = self._db.execute(
                "SELECT c.industry, c.week, c.sha256, s.skeleton, s.buffers FROM checkpoints c "
                "JOIN states s ON s.sha256 = c.sha256 WHERE c.quarter = ?",
                (quarter,),
            ).fetchall()
            loaded: dict[str, Checkpoint] = {}
            out = {}
            for industry, week, sha, skeleton, listed in found:
                if sha not in loaded:
                    arrays = [self._buffer(name) for name in json.loads(listed)]
                    loaded[sha] = Checkpoint(week, pickle.loads(skeleton, buffers=arrays))
                out[industry] = loaded[sha]
        return out

    def _buffer(self, sha: str) -> bytearray:
        """An array's bytes, checked against their SHA-256; writable, and a copy of its
        own for each state (a resumed run may not share memory with another)."""
        row = self._db.execute("SELECT data FROM buffers WHERE sha256 = ?", (sha,)).fetchone()
        raw = bytearray(zlib.decompress(row[0])) if row is not None else None
        if raw is None or hashlib.sha256(raw).hexdigest() != sha:
            raise ValueError(f"{self.path}: a saved market state is missing or damaged")
        return raw

    def played(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COALESCE(MAX(quarter), 0) FROM quarters").fetchone()[0]

    def last_quarter(self) -> SavedQuarter | None:
        with self._lock:
            row = self._db.execute(
                "SELECT quarter, digest FROM quarters ORDER BY quarter DESC LIMIT 1"
            ).fetchone()
            if row is None:
                return None
            quarter, digest = row
            tables = self._db.execute(
                "SELECT firm, columns, weeks, data FROM rows WHERE quarter = ?", (quarter,)
            ).fetchall()
        rows = {}
        for firm, columns, weeks, data in tables:
            names = json.loads(columns)
            values = np.frombuffer(data, dtype=np.float64).reshape(weeks, len(names))
            rows[firm] = pd.DataFrame(values.copy(), columns=names)
        return SavedQuarter(quarter, digest, rows)

    def digests(self) -> dict[int, str]:
        with self._lock:
            return dict(self._db.execute("SELECT quarter, digest FROM quarters").fetchall())
