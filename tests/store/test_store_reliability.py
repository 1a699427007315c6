"""The store under interrupts, plain SQL, foreign files, racing creators, full and read-only disks.

Real parts throughout: real SQLite files, real child processes, a real SIGINT, real tmpfs mounts
(skipped, with the reason, where mounting is not permitted).
"""

from __future__ import annotations

import contextlib
import dis
import gc
import hashlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import hitl_widgets
import hitl_widgets.core.store._migrations as migrations
from hitl_widgets.core.project import Project
from hitl_widgets.core.store import SchemaError, Store, StoreError

# The children import the same package as this process, wherever it was imported from.
PACKAGE_ROOT = Path(hitl_widgets.__file__).resolve().parents[1]
LABELS = ["ham", "spam"]
ITEMS = [f"i{k}" for k in range(8)]


def _env() -> dict:
    """Children import the package under test, whatever their working directory."""
    path = os.environ.get("PYTHONPATH", "")
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(PACKAGE_ROOT), path) if p)}


def _new_project(path) -> None:
    with Project(path, labels=LABELS) as project:
        project.add_items([f"text {k}" for k in range(len(ITEMS))], id=ITEMS)


def _raw(path, timeout: float = 5.0) -> sqlite3.Connection:
    """A connection that is not ours: what another program (or a user with sqlite3) holds."""
    return sqlite3.connect(path, timeout=timeout, isolation_level=None)


def _seqs(path) -> set[int]:
    conn = _raw(path)
    try:
        return {r[0] for r in conn.execute("SELECT seq FROM events")}
    finally:
        conn.close()


def _can_take_write_lock(path) -> bool:
    conn = _raw(path, timeout=0)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        conn.close()


def _digest(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


# -- 1. an interrupt while waiting on another process's lock ---------------------------------
CHILD = textwrap.dedent(
    """
    import json, sys
    from hitl_widgets.core.project import Project

    path, who = sys.argv[1], sys.argv[2]
    project = Project(path)

    def say(**message):
        sys.stdout.write(json.dumps(message) + "\\n")
        sys.stdout.flush()

    say(op="ready")
    sys.stdin.readline()  # the parent now holds the write lock
    say(op="intent")
    try:
        seq = project.annotate("i0", "spam", annotator=who)
        say(op="returned", seq=seq)
    except KeyboardInterrupt:
        say(op="interrupted")
    acked = [project.annotate(f"i{k}", "ham", annotator=who) for k in range(1, 6)]
    say(op="acked", seqs=acked)
    sys.stdin.readline()  # the parent checks that it can write while this process lives
    project.close()
    say(op="closed")
    """
)


def _state(pid: int) -> str:
    with open(f"/proc/{pid}/stat") as fh:
        return fh.read().rsplit(")", 1)[1].split()[0]


def _wait_until_blocked(pid: int) -> None:
    """Wait until the child sleeps (in SQLite's busy wait: it has nothing else to wait on)."""
    if not os.path.exists(f"/proc/{pid}/stat"):
        time.sleep(0.5)
        return
    deadline, asleep = time.monotonic() + 20, 0
    while time.monotonic() < deadline and asleep < 5:
        asleep = asleep + 1 if _state(pid) == "S" else 0
        time.sleep(0.01)
    time.sleep(0.1)


def _line(proc) -> dict:
    line = proc.stdout.readline()
    assert line, f"the child died: {proc.stderr.read()}"
    return json.loads(line)


@pytest.mark.timeout(120)
def test_interrupt_while_waiting_on_another_process_lock_loses_no_acknowledged_label(tmp_path):
    path = tmp_path / "p.hitl"
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    _new_project(path)
    for trial in range(3):
        who = f"ann{trial}"
        proc = subprocess.Popen([sys.executable, str(script), str(path), who], env=_env(),
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        holder = _raw(path)
        try:
            assert _line(proc)["op"] == "ready"
            holder.execute("BEGIN IMMEDIATE")  # a long add_items in another kernel
            proc.stdin.write("go\n")
            proc.stdin.flush()
            assert _line(proc)["op"] == "intent"
            _wait_until_blocked(proc.pid)
            os.kill(proc.pid, signal.SIGINT)  # "Interrupt kernel" while annotate waits
            holder.execute("ROLLBACK")
            assert _line(proc)["op"] == "interrupted", f"trial {trial}: annotate was not interrupted"
            acked = _line(proc)["seqs"]
            assert len(acked) == 5
            lock_free = _can_take_write_lock(path)  # asserted below, after the labels
            proc.stdin.write("close\n")
            proc.stdin.flush()
            assert _line(proc)["op"] == "closed"
            assert proc.wait(timeout=30) == 0
        finally:
            holder.close()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stdout.close()
            proc.stderr.close()
            proc.stdin.close()
        with Project(path) as project:
            mine = project.events().query("annotator == @who")
            assert sorted(mine["seq"].astype(int)) == sorted(acked), f"trial {trial}: acked {acked}"
            assert set(mine["item_id"]) == {f"i{k}" for k in range(1, 6)}  # i0 was rolled back
            assert lock_free, (f"trial {trial}: the interrupted process still held the write "
                               "lock after acknowledging 5 labels")
            project.annotate("i7", "ham", annotator="after")  # and this process can still write


# -- 2. an interrupt at every point of a write ---------------------------------------------
class _Interrupting:
    """Wraps our connection: a KeyboardInterrupt before or just after one statement runs."""

    def __init__(self, conn: sqlite3.Connection, prefix: str, after: bool):
        self.conn, self.prefix, self.after = conn, prefix, after

    def execute(self, sql, params=()):
        if self.prefix and sql.startswith(self.prefix):
            self.prefix = None
            if self.after:
                self.conn.execute(sql, params)
            raise KeyboardInterrupt
        return self.conn.execute(sql, params)

    def __getattr__(self, name):
        return getattr(self.conn, name)


POINTS = [("BEGIN", False), ("BEGIN", True), ("SELECT 1 FROM items", False),
          ("INSERT INTO events", False), ("INSERT INTO events", True),
          ("COMMIT", False), ("COMMIT", True)]


@pytest.mark.parametrize(("prefix", "after"), POINTS)
def test_interrupt_at_each_statement_of_a_write_leaves_no_transaction_open(tmp_path, prefix, after):
    path = tmp_path / "p.hitl"
    _new_project(path)
    store = Store(path)
    real = store._conn
    store._conn = _Interrupting(real, prefix, after)
    try:
        before = _seqs(path)
        with pytest.raises(KeyboardInterrupt):
            store.append("annotation", "i0", annotator="ana", labels=["spam"])
        assert not real.in_transaction
        assert _can_take_write_lock(path)
        landed = _seqs(path) - before
        assert len(landed) == (1 if (prefix, after) == ("COMMIT", True) else 0)
        acked = [store.append("annotation", f"i{k}", annotator="ana", labels=["ham"])
                 for k in range(1, 6)]
        assert set(acked) <= _seqs(path)  # seen by another connection: committed
        assert _can_take_write_lock(path)
    finally:
        store._conn = real
        store.close()


@pytest.mark.parametrize(("prefix", "after"), [("SAVEPOINT", False), ("SAVEPOINT", True),
                                               ("INSERT INTO events", True), ("RELEASE", False),
                                               ("RELEASE", True)])
def test_interrupt_inside_a_held_transaction_rolls_back_the_whole_block(tmp_path, prefix, after):
    path = tmp_path / "p.hitl"
    _new_project(path)
    store = Store(path)
    real = store._conn
    try:
        with store.transaction():
            first = store.append("assignment", "i0", annotator="ana")
            store._conn = _Interrupting(real, prefix, after)
            with pytest.raises(KeyboardInterrupt):
                store.append("assignment", "i1", annotator="ana")
            store._conn = real
        # The block went on after catching the interrupt: what it wrote before is kept; the
        # interrupted call left nothing, unless the interrupt came after it had finished.
        assert first in _seqs(path)
        finished = (prefix, after) == ("RELEASE", True)
        assert [e["item_id"] for e in store.events()] == ["i0", "i1"] if finished else ["i0"]
        assert not real.in_transaction and _can_take_write_lock(path)
    finally:
        store._conn = real
        store.close()


def _interrupt_points(code) -> set[int]:
    """Offsets where CPython (3.11+) may raise a pending KeyboardInterrupt: a function's start,
    a loop's back edge, and just after a call returns. Plain assignments are never interrupted."""
    out, previous = set(), None
    for ins in dis.get_instructions(code):
        after_call = (previous or "").startswith("CALL") and ins.opname != "PUSH_EXC_INFO"
        if ins.opname in ("RESUME", "JUMP_BACKWARD") or after_call:  # (a handler's entry
            out.add(ins.offset)                                       # follows no call)
        previous = ins.opname
    return out


def _trace_interrupt_at(n: int, files: tuple[str, ...], functions: set[str] | None = None):
    """A tracer raising KeyboardInterrupt at the n-th interrupt point run in these files (these
    functions of theirs), as a SIGINT arriving there would, and a counter of the points passed."""
    seen, points = [0], {}

    def local(frame, event, arg):
        if event == "opcode":
            code = frame.f_code
            if code not in points:
                points[code] = _interrupt_points(code)
            if frame.f_lasti in points[code]:
                seen[0] += 1
                if seen[0] == n:
                    raise KeyboardInterrupt
        return local

    def tracer(frame, event, arg):
        code = frame.f_code
        if not code.co_filename.endswith(files) or (functions and code.co_name not in functions):
            return None
        frame.f_trace_opcodes = True
        return local

    return tracer, seen


@contextlib.contextmanager
def _traced(tracer):
    sys.settrace(tracer)
    try:
        yield
    finally:
        sys.settrace(None)


def test_interrupt_at_every_point_of_a_write_loses_nothing_acknowledged(tmp_path):
    path = tmp_path / "p.hitl"
    _new_project(path)
    store = Store(path)
    files = ("store.py", "contextlib.py")
    acked: set[int] = set()
    try:
        n = 0
        while True:
            n += 1
            tracer, seen = _trace_interrupt_at(n, files)
            before = _seqs(path)
            interrupted = False
            with _traced(tracer):
                try:
                    acked.add(store.append("annotation", "i0", annotator="ana", labels=["spam"]))
                except KeyboardInterrupt:
                    interrupted = True
            assert len(_seqs(path) - before) <= 1
            # Whatever the interrupt left, the next writes are committed and release the lock.
            later = [store.append("annotation", f"i{k}", annotator="ana", labels=["ham"])
                     for k in (1, 2)]
            acked.update(later)
            assert acked <= _seqs(path), f"point {n}: acknowledged events are not committed"
            assert not store._conn.in_transaction and _can_take_write_lock(path), f"point {n}"
            if not interrupted:
                break
        assert n > 10, "the tracer passed too few points to test anything"
    finally:
        store.close()


@pytest.mark.slow
def test_interrupt_at_every_point_of_a_migration_leaves_a_whole_version(tmp_path):
    pristine, path = tmp_path / "pristine.hitl", tmp_path / "v2.hitl"
    _v2_file(pristine)
    rows = _dump(pristine)
    # An interrupt inside a helper (parsing the steps) reaches these frames as one after a call.
    opening = {"__init__", "_open_for_writing", "migrate", "_enable_wal", "missing_triggers"}
    n = 0
    while True:
        n += 1
        shutil.copyfile(pristine, path)  # every trial interrupts a migration from version 2
        tracer, _ = _trace_interrupt_at(n, ("store.py", "migrations.py"), opening)
        store = None
        with _traced(tracer):
            with contextlib.suppress(KeyboardInterrupt):
                store = Store(path)
        if store is not None:
            store.close()
        # A connection an interrupt caught between two statements is closed when collected
        # (sqlite3 connections sit in a reference cycle); collect before copying over its file.
        gc.collect()
        conn = _raw(path)
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        conn.close()
        assert version in (2, migrations.LATEST), f"point {n}: left at version {version}"
        assert _dump(path) == rows
        assert _can_take_write_lock(path)
        if store is not None:
            break
    assert n > 10


def test_a_failing_call_inside_a_transaction_undoes_only_its_own_writes(tmp_path):
    path = tmp_path / "p.hitl"
    _new_project(path)
    with contextlib.closing(Store(path)) as store:
        with store.transaction():
            store.append("assignment", "i0", annotator="ana")
            with pytest.raises(KeyError, match="nope"):
                store.append_many([dict(kind="assignment", item_id="i1", annotator="ana"),
                                   dict(kind="assignment", item_id="nope", annotator="ana")])
        assert [e["item_id"] for e in store.events()] == ["i0"]


# -- 3. REPLACE cannot rewrite the log ----------------------------------------------------------
def _dump(path) -> dict:
    conn = _raw(path)
    try:
        return {table: conn.execute(f"SELECT * FROM {table} ORDER BY seq").fetchall()
                for table in ("items", "events")}
    finally:
        conn.close()


@pytest.mark.parametrize("sql", [
    "INSERT OR REPLACE INTO events(seq, kind, item_id, annotator, labels, created_at) "
    "VALUES (1, 'annotation', 'i0', 'ana', '[\"ham\"]', 0)",
    "REPLACE INTO events(seq, kind, item_id, annotator, labels, created_at) "
    "VALUES (2, 'gold', 'i1', NULL, '[\"spam\"]', 0)",
    "INSERT OR REPLACE INTO events(kind, item_id, annotator, target, created_at) "
    "VALUES ('retraction', 'i0', 'ana', 1, 0)",
    "REPLACE INTO items(item_id, kind, text, content_hash, added_at) "
    "VALUES ('i0', 'text', 'rewritten', 'h', 0)",
    "INSERT OR REPLACE INTO items(seq, item_id, kind, text, content_hash, added_at) "
    "VALUES (2, 'new', 'text', 'rewritten', 'h', 0)",
    "INSERT OR REPLACE INTO items(item_id, kind, text, content_hash, added_at) "
    "VALUES ('i1', 'text', 'rewritten', 'h', 0)",
])
def test_replace_from_plain_sql_is_refused_and_changes_nothing(tmp_path, sql):
    path = tmp_path / "p.hitl"
    _new_project(path)
    with Project(path) as project:
        project.annotate("i0", "spam", annotator="ana")
        project.set_gold(["i1"], ["ham"])
        project.undo(annotator="ana")
    before = _dump(path)
    conn = _raw(path)
    conn.execute("PRAGMA recursive_triggers = OFF")  # SQLite's default: no DELETE trigger fires
    with pytest.raises(sqlite3.IntegrityError, match="append-only|immutable"):
        conn.execute(sql)
    conn.close()
    assert _dump(path) == before


def test_an_ordinary_insert_from_plain_sql_still_works(tmp_path):
    # The triggers refuse overwrites, not appends.
    path = tmp_path / "p.hitl"
    _new_project(path)
    conn = _raw(path)
    conn.execute("INSERT INTO events(kind, item_id, annotator, labels, created_at) "
                 "VALUES ('annotation', 'i0', 'ana', '[\"ham\"]', 0)")
    conn.close()
    with Project(path) as project:
        assert project.labels()["item_id"].tolist() == ["i0"]


@pytest.mark.parametrize("tamper", [
    "DROP TRIGGER events_no_replace",
    "DROP TRIGGER items_no_delete",
    # dropped and put back with a body that lets everything through
    "DROP TRIGGER events_no_update; CREATE TRIGGER events_no_update BEFORE UPDATE ON events "
    "WHEN 0 BEGIN SELECT 1; END",
])
def test_a_file_whose_triggers_were_tampered_with_is_refused_with_advice(tmp_path, tamper):
    path = tmp_path / "p.hitl"
    _new_project(path)
    conn = _raw(path)
    conn.executescript(tamper)
    conn.close()
    name = tamper.split()[2].rstrip(";")
    with pytest.raises(StoreError, match=rf"lost the triggers.*{name}.*backup.*read_only=True"):
        Project(path)
    with Project(path, read_only=True) as project:  # still readable, to export what it holds
        assert len(project.items()) == len(ITEMS)


def _v2_file(path) -> None:
    """A file exactly as version 2 left it, with items and a few events."""
    conn = _raw(path)
    conn.execute("BEGIN")
    for step in migrations.STEPS[:2]:
        for statement in migrations._statements(step):
            conn.execute(statement)
    conn.execute("PRAGMA user_version = 2")
    conn.execute(f"PRAGMA application_id = {migrations.APPLICATION_ID}")
    conn.execute("INSERT INTO meta VALUES ('schema', ?)", (json.dumps(
        {"labels": LABELS, "multi_label": False}),))
    for k, item in enumerate(ITEMS[:3]):
        conn.execute("INSERT INTO items(item_id, kind, text, content_hash, added_at) "
                     "VALUES (?, 'text', ?, ?, 0)", (item, f"text {k}", f"h{k}"))
    conn.execute("INSERT INTO events(kind, item_id, annotator, labels, created_at) "
                 "VALUES ('annotation', 'i0', 'ana', '[\"spam\"]', 1)")
    conn.execute("INSERT INTO events(kind, item_id, labels, created_at) "
                 "VALUES ('gold', 'i1', '[\"ham\"]', 2)")
    conn.execute("INSERT INTO events(kind, item_id, annotator, target, created_at) "
                 "VALUES ('retraction', 'i0', 'ana', 1, 3)")
    conn.execute("COMMIT")
    conn.close()


def test_a_version_2_file_migrates_to_the_latest_with_its_data_intact(tmp_path):
    path = tmp_path / "v2.hitl"
    _v2_file(path)
    before = _dump(path)
    with Project(path) as project:
        assert project.store._query("PRAGMA user_version")[0][0] == migrations.LATEST == 5
        indexes = {r[0] for r in project.store._query(
            "SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert "events_by_kind_seq" in indexes  # v4
        assert project.gold()["item_id"].tolist() == ["i1"]
        assert project.labels().empty
        project.annotate("i2", "ham", annotator="ana")
    after = _dump(path)
    assert after["items"] == before["items"] and after["events"][:3] == before["events"]
    conn = _raw(path)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("INSERT OR REPLACE INTO events(seq, kind, item_id, created_at) "
                     "VALUES (1, 'annotation', 'i0', 0)")
    conn.close()


# -- 7. foreign files are refused before anything is written ----------------------------------
def _foreign(path, *, app_id: int = 0, user_version: int = 2, tables: bool = True) -> None:
    conn = sqlite3.connect(path)
    if tables:
        conn.execute("CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT)")
        conn.execute("INSERT INTO notes(body) VALUES ('keep me')")
    conn.execute(f"PRAGMA user_version = {user_version}")
    conn.execute(f"PRAGMA application_id = {app_id}")
    conn.commit()
    conn.close()


@pytest.mark.parametrize(("app_id", "user_version", "tables", "message"), [
    (0, 2, True, "other tables"),
    (0, 0, True, "other tables"),
    (0, 2, False, "not a hitl_widgets project"),
    (0x1234, 1, True, "another application"),
])
def test_a_foreign_sqlite_file_is_refused_with_its_bytes_unchanged(tmp_path, app_id,
                                                                   user_version, tables, message):
    path = tmp_path / "other.db"
    _foreign(path, app_id=app_id, user_version=user_version, tables=tables)
    digest = _digest(path)
    for _attempt in range(2):  # refused every time, not opened the second
        with pytest.raises(StoreError, match=message):
            Project(path, labels=LABELS)
    assert _digest(path) == digest
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.db"]  # no -wal, no -journal
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    assert conn.execute("PRAGMA application_id").fetchone()[0] == app_id
    conn.close()


# -- 8. creation in one transaction ------------------------------------------------------------
CREATOR = textwrap.dedent(
    """
    import sys
    from hitl_widgets.core.project import Project
    from hitl_widgets.core.store import SchemaError

    path, labels = sys.argv[1], sys.argv[2].split(",")
    print("ready", flush=True)
    sys.stdin.readline()
    try:
        project = Project(path, labels=labels)
    except SchemaError as exc:
        print("refused", exc, flush=True)
    else:
        project.add_items(["t"], id=["a"])
        project.annotate("a", labels[0], annotator="x" + labels[0])
        project.close()
        print("created", flush=True)
    """
)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_two_processes_creating_one_file_with_different_labels_one_wins(tmp_path):
    script = tmp_path / "creator.py"
    script.write_text(CREATOR)
    choices = {"A": "ham,spam", "B": "cat,dog"}
    for trial in range(8):
        path = tmp_path / f"race{trial}.hitl"
        procs = {k: subprocess.Popen([sys.executable, str(script), str(path), v], env=_env(),
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
                 for k, v in choices.items()}
        try:
            for proc in procs.values():
                assert proc.stdout.readline().strip() == "ready"
            for proc in procs.values():  # the barrier: both go at once
                proc.stdin.write("go\n")
                proc.stdin.flush()
            out = {}
            for k, proc in procs.items():
                stdout, stderr = proc.communicate(timeout=60)
                assert proc.returncode == 0, stderr
                out[k] = stdout.strip()
        finally:
            for proc in procs.values():
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        winners = [k for k, v in out.items() if v == "created"]
        assert len(winners) == 1, f"trial {trial}: {out}"
        winner, loser = winners[0], "AB".replace(winners[0], "")
        stored = choices[winner].split(",")
        assert out[loser].startswith("refused") and f"has labels {stored}" in out[loser], out
        with Project(path) as project:
            assert list(project.schema.labels) == stored
            assert set(project.events()["labels"].map(tuple)) == {(stored[0],)}


def test_a_bad_image_root_writes_nothing(tmp_path):
    path = tmp_path / "p.hitl"
    with pytest.raises(NotADirectoryError, match="not a folder"):
        Project(path, labels=LABELS, image_root=tmp_path / "missing")
    with Project(path, labels=["cat", "dog"]) as project:  # no schema was left behind
        assert list(project.schema.labels) == ["cat", "dog"]
    with pytest.raises(NotADirectoryError):
        Project(path, image_root=tmp_path / "missing")
    with Project(path) as project:
        assert project.image_root is None


def test_bad_labels_for_a_new_project_create_no_file(tmp_path):
    path = tmp_path / "p.hitl"
    with pytest.raises(SchemaError):
        Project(path, labels=["ham", "ham"])
    with pytest.raises(SchemaError, match="give its labels"):
        Project(path)
    assert not path.exists()


# -- lesser: full disk, read-only files --------------------------------------------------------
@contextlib.contextmanager
def _tmpfs(where: Path, size: str):
    where.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                          capture_output=True, text=True)
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip() or done.returncode}); "
                    "this test needs root with CAP_SYS_ADMIN")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def _fill(folder: Path) -> Path:
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(fd, b"x" * 4096)
    except OSError:
        pass
    finally:
        os.close(fd)
    return filler


@pytest.mark.skipif(sys.platform != "linux", reason="mounts a tmpfs")
def test_a_full_disk_is_reported_plainly_and_nothing_is_written(tmp_path):
    with _tmpfs(tmp_path / "disk", "1m") as disk:
        path = disk / "p.hitl"
        _new_project(path)
        with Project(path) as project:
            project.annotate("i0", "ham", annotator="ana")
            filler = _fill(disk)
            with pytest.raises(StoreError, match="disk holding .* is full; nothing was written"):
                project.add_items(["x" * 300_000], id=["big"])
            assert len(project) == len(ITEMS)
            filler.unlink()
            project.add_items(["x" * 300_000], id=["big"])  # room again: the same call works
            assert project.annotate("i1", "ham", annotator="ana") in _seqs(path)
        conn = _raw(path)
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        conn.close()


def test_read_only_opens_for_reading_and_refuses_writes_with_advice(tmp_path):
    path = tmp_path / "p.hitl"
    _new_project(path)
    with Project(path) as project:
        project.annotate("i0", "spam", annotator="ana")
    digest = _digest(path)
    with Project(path, read_only=True) as project:
        assert project.labels()["label"].tolist() == ["spam"]
        assert len(project.events()) == 1 and len(project.items()) == len(ITEMS)
        with pytest.raises(StoreError, match="read-only because read_only=True.*writable"):
            project.annotate("i1", "ham", annotator="ana")
    assert _digest(path) == digest
    with pytest.raises(StoreError, match="does not exist"):
        Project(tmp_path / "missing.hitl", read_only=True)


@pytest.mark.skipif(sys.platform != "linux", reason="mounts a tmpfs")
def test_a_project_on_a_read_only_disk_opens_for_reading(tmp_path):
    with _tmpfs(tmp_path / "disk", "4m") as disk:
        path = disk / "p.hitl"
        _new_project(path)
        with Project(path) as project:
            project.annotate("i0", "spam", annotator="ana")
        done = subprocess.run(["mount", "-o", "remount,ro", str(disk)], capture_output=True,
                              text=True)
        if done.returncode:
            pytest.skip(f"cannot remount read-only: {done.stderr.strip()}")
        with Project(path) as project:
            assert project.labels()["label"].tolist() == ["spam"]
            assert len(project.items()) == len(ITEMS)
            with pytest.raises(StoreError, match="read-only file system.*Copy it somewhere writable"):
                project.annotate("i1", "ham", annotator="ana")
