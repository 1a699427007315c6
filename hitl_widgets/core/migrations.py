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

STEPS: list[str] = [_V1, _V2]
LATEST = len(STEPS)


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the file to the latest version; return the version it was at."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > LATEST:
            raise RuntimeError(
                f"This project file has schema version {version}, newer than this hitl_widgets "
                f"understands ({LATEST}); upgrade hitl_widgets to open it"
            )
        if version == 0 and conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0]:
            raise RuntimeError("This SQLite file holds other tables; it is not a hitl_widgets project")
        for step in STEPS[version:]:
            for statement in _statements(step):
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {LATEST}")
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return version


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
