"""Schema versions of the project file and the steps between them.

The version lives in SQLite's ``user_version``; each step runs in one transaction, so a file is
always at a whole version. Add a step by appending to ``STEPS``; never edit a shipped one.
"""

from __future__ import annotations

import sqlite3

# 'HTLW' in ASCII: marks the file as a hitl_widgets project for tools like `file`.
APPLICATION_ID = 0x48544C57

_V1 = """
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE items (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    item_id      TEXT NOT NULL UNIQUE,
    kind         TEXT NOT NULL CHECK (kind IN ('text', 'image', 'image_path', 'record')),
    text         TEXT,
    image        BLOB,
    path         TEXT,
    mime         TEXT,
    fields       TEXT NOT NULL DEFAULT '{}',
    meta         TEXT NOT NULL DEFAULT '{}',
    provenance   TEXT NOT NULL DEFAULT '{}',
    content_hash TEXT NOT NULL,
    added_at     REAL NOT NULL
);
CREATE TABLE events (
    seq              INTEGER PRIMARY KEY AUTOINCREMENT,
    kind             TEXT NOT NULL
                     CHECK (kind IN ('annotation', 'retraction', 'skip', 'suggestion', 'shown')),
    item_id          TEXT NOT NULL REFERENCES items(item_id),
    annotator        TEXT,
    labels           TEXT,
    source           TEXT CHECK (source IS NULL OR source IN ('human', 'model', 'lf')),
    score            REAL,
    suggestion       TEXT,
    suggestion_score REAL,
    ms_on_item       INTEGER,
    target           INTEGER REFERENCES events(seq),
    extra            TEXT,
    created_at       REAL NOT NULL
);
CREATE INDEX events_by_annotator ON events(annotator, kind, item_id);
CREATE INDEX events_by_item ON events(item_id, kind);
-- An event is retracted at most once, even with two kernels pressing undo together.
CREATE UNIQUE INDEX retraction_target ON events(target) WHERE kind = 'retraction';

-- The log is append-only: nothing in it is ever changed or removed.
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only: append a retraction instead'); END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only: append a retraction instead'); END;
CREATE TRIGGER items_no_update BEFORE UPDATE ON items
BEGIN SELECT RAISE(ABORT, 'items are immutable: add a new item instead'); END;
CREATE TRIGGER items_no_delete BEFORE DELETE ON items
BEGIN SELECT RAISE(ABORT, 'items are immutable: add a new item instead'); END;
"""

# v2: the quality workflow's event kinds (gold answers, assignments, requests for more labels,
# flags, adjudicators' resolutions, per-item overlap). SQLite cannot change a CHECK constraint in
# place, so the events table is rebuilt with the same columns and rows; the kind is checked by a
# trigger instead, which a later step can drop and recreate with a longer list without a rebuild.
# The new table references itself as events_v2; RENAME rewrites that to "events".
_V2 = """
CREATE TABLE events_v2 (
    seq              INTEGER PRIMARY KEY AUTOINCREMENT,
    kind             TEXT NOT NULL,
    item_id          TEXT NOT NULL REFERENCES items(item_id),
    annotator        TEXT,
    labels           TEXT,
    source           TEXT CHECK (source IS NULL OR source IN ('human', 'model', 'lf')),
    score            REAL,
    suggestion       TEXT,
    suggestion_score REAL,
    ms_on_item       INTEGER,
    target           INTEGER REFERENCES events_v2(seq),
    extra            TEXT,
    created_at       REAL NOT NULL
);
INSERT INTO events_v2 SELECT seq, kind, item_id, annotator, labels, source, score, suggestion,
    suggestion_score, ms_on_item, target, extra, created_at FROM events ORDER BY seq;
DROP TABLE events;
ALTER TABLE events_v2 RENAME TO events;
CREATE INDEX events_by_annotator ON events(annotator, kind, item_id);
CREATE INDEX events_by_item ON events(item_id, kind);
CREATE INDEX events_by_kind ON events(kind, item_id);
CREATE UNIQUE INDEX retraction_target ON events(target) WHERE kind = 'retraction';
CREATE TRIGGER events_kind BEFORE INSERT ON events
WHEN NEW.kind NOT IN ('annotation', 'retraction', 'skip', 'suggestion', 'shown', 'gold',
                      'assignment', 'request', 'flag', 'resolution', 'overlap')
BEGIN SELECT RAISE(ABORT, 'unknown event kind'); END;
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only: append a retraction instead'); END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only: append a retraction instead'); END;
"""

# v3: REPLACE cannot rewrite the log. ``INSERT OR REPLACE`` (and ``REPLACE INTO``) deletes the row
# it collides with before inserting, and SQLite fires no DELETE trigger for that deletion unless
# the connection turned recursive_triggers on; these refuse the insert before it gets that far.
# A new event's seq is NULL (or -1 inside the trigger) when SQLite assigns it, so it never matches.
_V3 = """
CREATE TRIGGER events_no_replace BEFORE INSERT ON events
WHEN EXISTS (SELECT 1 FROM events WHERE seq = NEW.seq)
  OR (NEW.kind = 'retraction'
      AND EXISTS (SELECT 1 FROM events WHERE kind = 'retraction' AND target = NEW.target))
BEGIN SELECT RAISE(ABORT, 'events are append-only: an event with this seq (or a retraction of this target) exists'); END;
CREATE TRIGGER items_no_replace BEFORE INSERT ON items
WHEN EXISTS (SELECT 1 FROM items WHERE item_id = NEW.item_id OR seq = NEW.seq)
BEGIN SELECT RAISE(ABORT, 'items are immutable: an item with this id (or seq) exists'); END;
"""

# v4: "the newest event of these kinds" in O(log n). Views and queues ask it on every keypress
# (has anything been undone? flagged?); with only (kind, item_id) indexed SQLite read every
# annotation to answer it (113 ms at 1M annotations). An index on kind alone is ordered by
# (kind, seq), so MAX(seq) for one kind is one lookup.
_V4 = """
CREATE INDEX events_by_kind_seq ON events(kind);
"""

# v5: span tasks. A ``spans`` event is one annotator's submission of an item's spans (zero spans
# is an answer: "nothing to mark"); each ``span`` and ``relation`` event points at its
# submission through ``target``, so "the current spans" are those of the latest live submission
# that no retraction removed one by one. The kind trigger is recreated with the longer list; the
# partial index finds a submission's spans without reading the other events.
_V5 = """
DROP TRIGGER events_kind;
CREATE TRIGGER events_kind BEFORE INSERT ON events
WHEN NEW.kind NOT IN ('annotation', 'retraction', 'skip', 'suggestion', 'shown', 'gold',
                      'assignment', 'request', 'flag', 'resolution', 'overlap',
                      'spans', 'span', 'relation')
BEGIN SELECT RAISE(ABORT, 'unknown event kind'); END;
CREATE INDEX events_span_parts ON events(target) WHERE kind IN ('span', 'relation');
"""

STEPS: list[str] = [_V1, _V2, _V3, _V4, _V5]
LATEST = len(STEPS)


class ForeignFileError(RuntimeError):
    """The SQLite file belongs to another application (or is not at a version we know)."""


def classify(application_id: int, version: int, objects: int) -> str:
    """Decide from a file's header what it is: ``"ours"``, ``"new"`` (empty) or raise.

    Every project file carries our application id: the first step stamps it in the same
    transaction that creates the tables. So a file with tables (or a version) but without our id
    belongs to someone else, whatever its ``user_version`` says.
    """
    if application_id == APPLICATION_ID:
        if version > LATEST:
            raise ForeignFileError(
                f"This project file has schema version {version}, newer than this hitl_widgets "
                f"understands ({LATEST}); upgrade hitl_widgets to open it"
            )
        return "ours"
    if application_id == 0 and version == 0 and objects == 0:
        return "new"
    if application_id != 0:
        raise ForeignFileError("This is an SQLite file of another application "
                               f"(application_id {application_id:#x}); choose another name")
    raise ForeignFileError("This SQLite file holds other tables; it is not a hitl_widgets project. "
                           "Choose another name; the file was left as it was")


def header(conn: sqlite3.Connection) -> tuple[int, int, int]:
    """(application_id, user_version, schema objects) of the file; reads, writes nothing."""
    return (
        conn.execute("PRAGMA application_id").fetchone()[0],
        conn.execute("PRAGMA user_version").fetchone()[0],
        conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0],
    )


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the file to the latest version; return the version it was at.

    Runs in one write transaction that is rolled back on any exception, an interrupt included,
    and re-reads the header inside it: another process may have created the file meanwhile.
    Refuses (ForeignFileError) a file that is not ours, writing nothing.
    """
    if conn.in_transaction:
        raise RuntimeError("migrate() needs a connection outside any transaction")
    try:
        # BEGIN inside the try: an interrupt landing just after it returns still rolls back.
        conn.execute("BEGIN IMMEDIATE")
        app_id, version, objects = header(conn)
        classify(app_id, version, objects)
        if version < LATEST:
            for step in STEPS[version:]:
                for statement in _statements(step):
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {LATEST}")
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return version


def missing_triggers(conn: sqlite3.Connection, version: int = LATEST) -> list[str]:
    """The protective triggers a file at ``version`` should hold but does not (or holds altered).

    They are what makes the log append-only; anyone with write access to the file can drop
    them, and a file without them may have been edited.
    """
    have = {name: _normal(sql) for name, sql in conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")}
    return sorted(name for name, sql in expected_triggers(version).items() if have.get(name) != sql)


def expected_triggers(version: int = LATEST) -> dict[str, str]:
    """Trigger name → its normalised SQL, as the steps up to ``version`` leave them."""
    out: dict[str, str] = {}
    for step in STEPS[:version]:
        for statement in _statements(step):
            words = statement.split()
            if words[:2] == ["CREATE", "TRIGGER"]:
                out[words[2]] = _normal(statement)
            elif words[:2] == ["DROP", "TRIGGER"]:
                out.pop(words[-1].rstrip(";"), None)
            elif words[:2] == ["DROP", "TABLE"]:  # its triggers go with it
                table = words[-1].rstrip(";")
                out = {n: s for n, s in out.items() if f" ON {table} " not in s}
    return out


def _normal(sql: str | None) -> str | None:
    return None if sql is None else " ".join(sql.split()).rstrip(";").strip()


def _statements(script: str) -> list[str]:
    """Split a script on the statements' ends; triggers carry their own ';' inside BEGIN…END."""
    out, buf = [], []
    for line in script.strip().splitlines():
        if line.startswith("--") or not line.strip():
            continue
        buf.append(line)
        joined = "\n".join(buf)
        if joined.rstrip().endswith(";") and (
            "BEGIN" not in joined or joined.rstrip().endswith("END;")
        ):
            out.append(joined)
            buf = []
    return out
