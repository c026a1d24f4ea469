"""The room's SQLite store: a fresh file per test, migrations, locking at the reveal."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from sockscope.room.store import FILE_NAME, MIGRATIONS, MirrorRow, RoomStore, token_hash


@pytest.fixture
def store(tmp_path: Path) -> RoomStore:
    return RoomStore(tmp_path / FILE_NAME)


def test_a_new_file_gets_the_schema_and_its_version(tmp_path: Path, store: RoomStore) -> None:
    store.close()
    db = sqlite3.connect(tmp_path / FILE_NAME)
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert tables == {"room", "participants", "rounds", "answers", "observers"}
    assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    db.close()
    again = RoomStore(tmp_path / FILE_NAME)  # an up-to-date file is left as it is
    assert again.room("NEWONE").code == "NEWONE"
    again.close()


def test_a_version_1_file_is_brought_up_to_date_and_keeps_its_room(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / FILE_NAME)
    db.executescript(MIGRATIONS[0] + "; PRAGMA user_version = 1;")
    db.execute("INSERT INTO room (id, code, lesson) VALUES (1, 'OLD234', 'server-sockets')")
    db.commit()
    db.close()
    store = RoomStore(tmp_path / FILE_NAME)
    assert store.room("NEW789").code == "OLD234"
    assert store.mirror() == MirrorRow(None, False, None)
    store.set_mirror(MirrorRow("p1", True, ("server-sockets", 5)))
    assert store.mirror() == MirrorRow("p1", True, ("server-sockets", 5))
    store.close()


def test_the_room_row_keeps_its_first_code(store: RoomStore) -> None:
    assert store.room("ABC234").code == "ABC234"
    assert store.room("XYZ789").code == "ABC234"
    store.push("server-sockets", follow=True)
    store.set_frozen(True)
    store.set_follow_step(3)
    row = store.room("")
    assert (row.lesson, row.follow, row.follow_step) == ("server-sockets", True, 3)
    assert row.frozen
    assert row.pushed_at is not None


def test_participants_are_found_by_token_which_is_kept_hashed(store: RoomStore) -> None:
    made = store.add_participant("p1", "Ada", "secret-token", "10.0.0.5")
    assert store.participant_by_token("secret-token") == made
    assert store.participant_by_token("other") is None
    store.set_lab("p1", "lab-1")
    store.set_help("p1", True)
    found = store.participant("p1")
    assert found is not None and found.lab == "lab-1" and found.help_at is not None
    assert store.count_from("10.0.0.5") == 1 and store.count_from("10.0.0.6") == 0
    assert token_hash("secret-token") != "secret-token"
    with pytest.raises(sqlite3.IntegrityError):  # one token, one participant
        store.add_participant("p2", "Bob", "secret-token", "10.0.0.6")
    assert [p.id for p in store.participants()] == ["p1"]  # the failed write left nothing


def test_an_answer_may_change_until_its_round_is_revealed(store: RoomStore) -> None:
    store.add_participant("p1", "Ada", "t1", "c")
    assert store.answer("p1", "l", 5, 1, 0)
    assert store.answer("p1", "l", 5, 1, 2)
    assert [(a.choice, a.round) for a in store.answers("l", 5)] == [(2, 1)]
    store.reveal("l", 5, 1)
    assert not store.answer("p1", "l", 5, 1, 1)
    assert [a.choice for a in store.answers("l", 5, 1)] == [2]
    assert store.answer("p1", "l", 5, 2, 1)  # the second round is another row
    assert [r.round for r in store.revealed("l")] == [1]


def test_observers_watch_one_participant(store: RoomStore) -> None:
    store.add_participant("p1", "Ada", "t1", "c")
    store.add_observer("watch-token", "p1")
    assert store.observed_by("watch-token") == "p1"
    assert store.observed_by("t1") is None
