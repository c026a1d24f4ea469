"""The room's state in SQLite: the roster, the answers, what was pushed, what was revealed.

One file, ``<data dir>/room.sqlite3`` (or an in-memory database when there is no data dir),
in WAL mode, written by one thread at a time (the web process's event loop; the lab threads
never touch it), every write in a transaction. The schema's version is ``PRAGMA
user_version``; :data:`MIGRATIONS` brings an older file up to date, one step each.

Labs are kernel state and do not survive a restart; what is kept here is who the participants
are (a token's sha256, never the token), which lab each had, and every answer.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FILE_NAME = "room.sqlite3"

MIGRATIONS = (
    """
    CREATE TABLE room (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        code TEXT NOT NULL,
        lesson TEXT,
        pushed_at REAL,
        follow INTEGER NOT NULL DEFAULT 0,
        follow_step INTEGER NOT NULL DEFAULT 0,
        frozen INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE participants (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        token_hash TEXT NOT NULL UNIQUE,
        client TEXT NOT NULL,
        lab TEXT,
        joined_at REAL NOT NULL,
        help_at REAL
    );
    CREATE TABLE rounds (
        lesson TEXT NOT NULL,
        step INTEGER NOT NULL,
        round INTEGER NOT NULL CHECK (round IN (1, 2)),
        opened_at REAL,
        revealed_at REAL,
        PRIMARY KEY (lesson, step, round)
    );
    CREATE TABLE answers (
        participant TEXT NOT NULL REFERENCES participants (id),
        lesson TEXT NOT NULL,
        step INTEGER NOT NULL,
        round INTEGER NOT NULL CHECK (round IN (1, 2)),
        choice INTEGER NOT NULL,
        answered_at REAL NOT NULL,
        PRIMARY KEY (participant, lesson, step, round)
    );
    CREATE TABLE observers (
        token_hash TEXT PRIMARY KEY,
        participant TEXT NOT NULL REFERENCES participants (id),
        made_at REAL NOT NULL
    );
    """,
    # 2: what the projector shows (POST /api/room/mirror). The participant, not its lab: a
    # lab does not survive a restart, and its participant's new one is mirrored instead.
    """
    ALTER TABLE room ADD COLUMN mirror_participant TEXT;
    ALTER TABLE room ADD COLUMN mirror_hide_names INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE room ADD COLUMN mirror_lesson TEXT;
    ALTER TABLE room ADD COLUMN mirror_step INTEGER
    """,
)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class RoomRow:
    code: str
    lesson: str | None
    pushed_at: float | None
    follow: bool
    follow_step: int
    frozen: bool


@dataclass(frozen=True, slots=True)
class MirrorRow:
    """What the instructor put on the projector."""

    participant: str | None  # whose lab is mirrored; None: the join code
    hide_names: bool
    question: tuple[str, int] | None  # (lesson, step) whose counts to show once revealed


@dataclass(frozen=True, slots=True)
class Participant:
    id: str
    name: str
    client: str
    lab: str | None
    joined_at: float
    help_at: float | None


@dataclass(frozen=True, slots=True)
class Round:
    lesson: str
    step: int
    round: int
    opened_at: float | None
    revealed_at: float | None


@dataclass(frozen=True, slots=True)
class AnswerRow:
    participant: str
    lesson: str
    step: int
    round: int
    choice: int
    answered_at: float


class RoomStore:
    """Every read and write of the room's database (one connection, serialised by a lock)."""

    def __init__(self, path: Path | None) -> None:
        target = ":memory:" if path is None else str(path)
        self._db = sqlite3.connect(target, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        self._db.execute("PRAGMA foreign_keys = ON")
        if path is not None:
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = NORMAL")  # WAL: durable at each checkpoint
        self._migrate()

    def _migrate(self) -> None:
        version: int = self._db.execute("PRAGMA user_version").fetchone()[0]
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            with self._write() as db:
                for statement in filter(str.strip, script.split(";")):
                    db.execute(statement)
                db.execute(f"PRAGMA user_version = {number}")

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _read(self, sql: str, *args: object) -> list[Any]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- the room --------------------------------------------------------------------------

    def room(self, new_code: str) -> RoomRow:
        """The room's row, made with ``new_code`` the first time."""
        with self._write() as db:
            db.execute("INSERT OR IGNORE INTO room (id, code) VALUES (1, ?)", (new_code,))
        (row,) = self._read(
            "SELECT code, lesson, pushed_at, follow, follow_step, frozen FROM room WHERE id = 1"
        )
        code, lesson, pushed_at, follow, step, frozen = row
        return RoomRow(str(code), _str(lesson), _float(pushed_at), bool(follow), int(step),
                       bool(frozen))  # fmt: skip

    def push(self, lesson: str, follow: bool) -> None:
        with self._write() as db:
            db.execute(
                "UPDATE room SET lesson = ?, pushed_at = ?, follow = ?, follow_step = 0",
                (lesson, time.time(), int(follow)),
            )

    def set_follow_step(self, step: int) -> None:
        with self._write() as db:
            db.execute("UPDATE room SET follow_step = ?", (step,))

    def set_frozen(self, frozen: bool) -> None:
        with self._write() as db:
            db.execute("UPDATE room SET frozen = ?", (int(frozen),))

    def mirror(self) -> MirrorRow:
        (row,) = self._read(
            "SELECT mirror_participant, mirror_hide_names, mirror_lesson, mirror_step FROM room"
            " WHERE id = 1"
        )
        pid, hide, lesson, step = row
        question = None if lesson is None or step is None else (str(lesson), int(step))
        return MirrorRow(_str(pid), bool(hide), question)

    def set_mirror(self, mirror: MirrorRow) -> None:
        lesson, step = mirror.question or (None, None)
        with self._write() as db:
            db.execute(
                "UPDATE room SET mirror_participant = ?, mirror_hide_names = ?,"
                " mirror_lesson = ?, mirror_step = ?",
                (mirror.participant, int(mirror.hide_names), lesson, step),
            )

    # -- participants ----------------------------------------------------------------------

    def add_participant(self, pid: str, name: str, token: str, client: str) -> Participant:
        joined = time.time()
        with self._write() as db:
            db.execute(
                "INSERT INTO participants (id, name, token_hash, client, joined_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (pid, name, token_hash(token), client, joined),
            )
        return Participant(pid, name, client, None, joined, None)

    _COLUMNS = "id, name, client, lab, joined_at, help_at"

    def participant_by_token(self, token: str) -> Participant | None:
        rows = self._read(
            f"SELECT {self._COLUMNS} FROM participants WHERE token_hash = ?", token_hash(token)
        )
        return _participant(rows[0]) if rows else None

    def participant(self, pid: str) -> Participant | None:
        rows = self._read(f"SELECT {self._COLUMNS} FROM participants WHERE id = ?", pid)
        return _participant(rows[0]) if rows else None

    def participants(self) -> list[Participant]:
        rows = self._read(f"SELECT {self._COLUMNS} FROM participants ORDER BY joined_at, id")
        return [_participant(row) for row in rows]

    def names(self) -> set[str]:
        return {str(row[0]) for row in self._read("SELECT name FROM participants")}

    def count_from(self, client: str) -> int:
        (row,) = self._read("SELECT count(*) FROM participants WHERE client = ?", client)
        return int(row[0])

    def set_lab(self, pid: str, lab: str) -> None:
        with self._write() as db:
            db.execute("UPDATE participants SET lab = ? WHERE id = ?", (lab, pid))

    def set_help(self, pid: str, on: bool) -> None:
        with self._write() as db:
            db.execute(
                "UPDATE participants SET help_at = ? WHERE id = ?",
                (time.time() if on else None, pid),
            )

    # -- observers -------------------------------------------------------------------------

    def add_observer(self, token: str, pid: str) -> None:
        with self._write() as db:
            db.execute(
                "INSERT INTO observers (token_hash, participant, made_at) VALUES (?, ?, ?)",
                (token_hash(token), pid, time.time()),
            )

    def observed_by(self, token: str) -> str | None:
        """The participant whose lab an observer token may watch."""
        rows = self._read(
            "SELECT participant FROM observers WHERE token_hash = ?", token_hash(token)
        )
        return str(rows[0][0]) if rows else None

    # -- votes -----------------------------------------------------------------------------

    def rounds(self, lesson: str, step: int) -> list[Round]:
        rows = self._read(
            "SELECT lesson, step, round, opened_at, revealed_at FROM rounds"
            " WHERE lesson = ? AND step = ? ORDER BY round",
            lesson,
            step,
        )
        return [Round(str(a), int(b), int(c), _float(d), _float(e)) for a, b, c, d, e in rows]

    def revealed(self, lesson: str) -> list[Round]:
        rows = self._read(
            "SELECT lesson, step, round, opened_at, revealed_at FROM rounds"
            " WHERE lesson = ? AND revealed_at IS NOT NULL ORDER BY step, round",
            lesson,
        )
        return [Round(str(a), int(b), int(c), _float(d), _float(e)) for a, b, c, d, e in rows]

    def revealed_all(self) -> list[Round]:
        """Every revealed round of every lesson, in the order of the reveals (newest last)."""
        rows = self._read(
            "SELECT lesson, step, round, opened_at, revealed_at FROM rounds"
            " WHERE revealed_at IS NOT NULL ORDER BY revealed_at, lesson, step, round"
        )
        return [Round(str(a), int(b), int(c), _float(d), _float(e)) for a, b, c, d, e in rows]

    def open_round(self, lesson: str, step: int, number: int, opened_at: float | None) -> None:
        with self._write() as db:
            db.execute(
                "INSERT OR IGNORE INTO rounds (lesson, step, round, opened_at) VALUES (?, ?, ?, ?)",
                (lesson, step, number, opened_at),
            )

    def reveal(self, lesson: str, step: int, number: int) -> None:
        with self._write() as db:
            db.execute(
                "INSERT OR IGNORE INTO rounds (lesson, step, round) VALUES (?, ?, ?)",
                (lesson, step, number),
            )
            db.execute(
                "UPDATE rounds SET revealed_at = ? WHERE lesson = ? AND step = ? AND round = ?"
                " AND revealed_at IS NULL",
                (time.time(), lesson, step, number),
            )

    def answer(self, pid: str, lesson: str, step: int, number: int, choice: int) -> bool:
        """Record (or change) an answer; False, and nothing written, once its round is revealed.

        The check and the write are one transaction: an answer cannot slip in after a reveal.
        """
        with self._write() as db:
            locked = db.execute(
                "SELECT 1 FROM rounds WHERE lesson = ? AND step = ? AND round = ?"
                " AND revealed_at IS NOT NULL",
                (lesson, step, number),
            ).fetchone()
            if locked:
                return False
            db.execute(
                "INSERT INTO answers (participant, lesson, step, round, choice, answered_at)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (participant, lesson, step, round)"
                " DO UPDATE SET choice = excluded.choice, answered_at = excluded.answered_at",
                (pid, lesson, step, number, choice, time.time()),
            )
        return True

    def answers(
        self, lesson: str | None = None, step: int | None = None, number: int | None = None
    ) -> list[AnswerRow]:
        rows = self._read(
            "SELECT participant, lesson, step, round, choice, answered_at FROM answers"
            " WHERE (?1 IS NULL OR lesson = ?1) AND (?2 IS NULL OR step = ?2)"
            " AND (?3 IS NULL OR round = ?3) ORDER BY lesson, step, participant, round",
            lesson,
            step,
            number,
        )
        return [AnswerRow(str(a), str(b), int(c), int(d), int(e), float(f))
                for a, b, c, d, e, f in rows]  # fmt: skip


def _participant(row: Any) -> Participant:
    pid, name, client, lab, joined, help_at = row
    return Participant(str(pid), str(name), str(client), _str(lab), float(joined), _float(help_at))


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def _float(value: Any) -> float | None:
    return None if value is None else float(value)
