"""Live edits of the GeoPackage store: in place, on the current version's table.

An edit is one ``BEGIN IMMEDIATE`` transaction (SQLite has one writer at a time, so edits of
every worker and the ETL take turns): the feature row and its R-tree entry, a ``_rev`` column
counting its revisions (added to the table on its first edit), the change row in
``tg_changes`` and its public form in ``tg_change_records`` (gpkg_outbox.py), the tiles it
touches in ``tg_tile_touches``, the version's ``edit_seq`` and the
registry generation. Readers (WAL) see all of it at the commit, or nothing.
"""

import json
import sqlite3
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely

from tsukuba_gis.errors import StoreBusy, StoreError
from tsukuba_gis.store import gpkg_format as fmt
from tsukuba_gis.store.base import Change, EditRequest, EditResult, LayerRecord
from tsukuba_gis.store.editing import FeatureState, Plan, change_of, check_current, now_utc, plan
from tsukuba_gis.store.gpkg_outbox import insert_records
from tsukuba_gis.store.gpkg_query import booleans
from tsukuba_gis.store.outbox import record_of_edit
from tsukuba_gis.tiles.touch import WHOLE_LAYER, touched_tiles, union

if TYPE_CHECKING:
    from tsukuba_gis.store.gpkg import GeoPackageStore

MIGRATION = [  # 3: live edits (issue 13)
    "ALTER TABLE tg_layer_versions ADD COLUMN edit_seq INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE tg_layer_versions ADD COLUMN edited_at TEXT",
    """CREATE TABLE tg_changes (
        id INTEGER PRIMARY KEY AUTOINCREMENT, layer_id TEXT NOT NULL, version INTEGER NOT NULL,
        seq INTEGER NOT NULL, feature_id TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('add', 'modify', 'delete')),
        before TEXT, after TEXT, geometry_before BLOB, geometry_after BLOB,
        min_x REAL, min_y REAL, max_x REAL, max_y REAL, rev_before INTEGER, rev_after INTEGER,
        username TEXT NOT NULL, department TEXT, via TEXT NOT NULL, at TEXT NOT NULL,
        cause TEXT NOT NULL, reverts INTEGER REFERENCES tg_changes (id))""",
    "CREATE INDEX tg_changes_layer ON tg_changes (layer_id, version, seq)",
    "CREATE INDEX tg_changes_feature ON tg_changes (layer_id, feature_id)",
    """CREATE TABLE tg_tile_touches (
        layer_id TEXT NOT NULL, version INTEGER NOT NULL, z INTEGER NOT NULL, x INTEGER NOT NULL,
        y INTEGER NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (layer_id, version, z, x, y))
        WITHOUT ROWID""",
]
CHANGE_COLUMNS = (
    "id, layer_id, version, seq, feature_id, kind, before, after, geometry_before, geometry_after,"
    " min_x, min_y, max_x, max_y, rev_before, rev_after, username, department, via, at, cause, reverts"
)
BUSY_MS = 5000  # an edit waits this long for another writer (an ETL) before a 503


def _key(record: LayerRecord, feature_id: str) -> tuple[str, Any]:
    if record.id_column:
        return f'"{record.id_column}"', feature_id
    text = str(feature_id)
    return "fid", int(text) if text.isascii() and text.isdigit() and len(text) < 19 else -1


def _has_rev(con: sqlite3.Connection, table: str) -> bool:
    return any(row[1] == "_rev" for row in con.execute(f'PRAGMA table_info("{table}")'))


def _state(con: sqlite3.Connection, record: LayerRecord, feature_id: str, rev: bool) -> FeatureState | None:
    column, value = _key(record, feature_id)
    names = [c.name for c in record.columns]
    cols = ", ".join(f'"{n}"' for n in names)
    row = con.execute(
        f"SELECT fid, geom, {'_rev' if rev else '1'}{', ' + cols if cols else ''}"
        f' FROM "{record.table}" WHERE {column} = ? LIMIT 1',
        (value,),
    ).fetchone()
    if row is None:
        return None
    kinds = {c.name: c.type for c in record.columns}
    props = {n: booleans([row[i + 3]], kinds[n])[0] for i, n in enumerate(names)}
    return FeatureState(row[0], props, fmt.wkb_of(row[1]), row[2])


def _added_revision(con: sqlite3.Connection, record: LayerRecord, feature_id: str) -> int:
    row = con.execute(
        "SELECT MAX(MAX(COALESCE(rev_before, 0), COALESCE(rev_after, 0))) FROM tg_changes"
        " WHERE layer_id = ? AND version = ? AND feature_id = ?",
        (record.layer_id, record.version, str(feature_id)),
    ).fetchone()
    return (row[0] or 0) + 1


def _blob(wkb: bytes) -> tuple[bytes, np.ndarray]:
    blobs, bounds = fmt.encode(np.array([shapely.from_wkb(wkb)], dtype=object))
    return blobs[0], bounds[0]


def _rtree(con: sqlite3.Connection, table: str, fid: int, bounds: np.ndarray | None) -> None:
    rtree = f'"rtree_{table}_geom"'
    con.execute(f"DELETE FROM {rtree} WHERE id = ?", (fid,))
    if bounds is not None:  # SQLite rounds float32 boxes outwards itself
        minx, miny, maxx, maxy = (float(v) for v in bounds)
        con.execute(f"INSERT INTO {rtree} VALUES (?, ?, ?, ?, ?)", (fid, minx, maxx, miny, maxy))


def _write(con: sqlite3.Connection, record: LayerRecord, step: Plan) -> int:
    """Write the plan into the version's table and its R-tree; the feature count change."""
    table, names = record.table, [c.name for c in record.columns]
    state, after = step.before, step.after
    if after is None:
        con.execute(f'DELETE FROM "{table}" WHERE fid = ?', (state.fid,))
        _rtree(con, table, state.fid, None)
        return -1
    values = [after[n] for n in names]
    if state is None:
        blob, bounds = _blob(step.wkb)
        cols = ", ".join(["geom", "_rev", *(f'"{n}"' for n in names)])
        marks = ", ".join("?" * (len(names) + 2))
        cur = con.execute(f'INSERT INTO "{table}" ({cols}) VALUES ({marks})', (blob, step.revision, *values))
        _rtree(con, table, cur.lastrowid, bounds)
        return 1
    sets = ", ".join([*(f'"{n}" = ?' for n in names), "_rev = ?"])
    args: list[Any] = [*values, step.revision]
    if step.wkb is not None:
        blob, bounds = _blob(step.wkb)
        sets += ", geom = ?"
        args.append(blob)
        _rtree(con, table, state.fid, bounds)
    con.execute(f'UPDATE "{table}" SET {sets} WHERE fid = ? AND _rev = ?', (*args, state.fid, state.revision))
    return 0


def _json(value: dict[str, Any] | None) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, default=str)


def _record_change(con: sqlite3.Connection, record: LayerRecord, step: Plan, seq: int, at: str) -> Change:
    draft = change_of(step, 0, record, seq, at)
    box = draft.bounds or (None, None, None, None)
    cur = con.execute(
        f"INSERT INTO tg_changes ({CHANGE_COLUMNS.removeprefix('id, ')}) VALUES"
        " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            draft.layer_id,
            draft.version,
            draft.seq,
            draft.feature_id,
            draft.kind,
            _json(draft.before),
            _json(draft.after),
            draft.geometry_before,
            draft.geometry_after,
            *box,
            draft.rev_before,
            draft.rev_after,
            draft.user,
            draft.department,
            draft.via,
            draft.at,
            draft.cause,
            draft.reverts,
        ),
    )
    touches = touched_tiles([draft.bounds])
    con.executemany(
        "INSERT INTO tg_tile_touches VALUES (?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (layer_id, version, z, x, y) DO UPDATE SET seq = excluded.seq",
        [(record.layer_id, record.version, z, x, y, seq) for z, x, y in touches],
    )
    change = change_of(step, cur.lastrowid, record, seq, at)
    insert_records(con, [record_of_edit(change, step.wkb or (step.before.wkb if step.before else None))])
    return change


def change_from_row(row: sqlite3.Row) -> Change:
    """A Change from a ``tg_changes`` row (CHANGE_COLUMNS)."""
    box = (row["min_x"], row["min_y"], row["max_x"], row["max_y"])
    return Change(
        id=row["id"],
        layer_id=row["layer_id"],
        version=row["version"],
        seq=row["seq"],
        feature_id=row["feature_id"],
        kind=row["kind"],
        before=json.loads(row["before"]) if row["before"] else None,
        after=json.loads(row["after"]) if row["after"] else None,
        geometry_before=row["geometry_before"],
        geometry_after=row["geometry_after"],
        bounds=None if box[0] is None else box,
        rev_before=row["rev_before"],
        rev_after=row["rev_after"],
        user=row["username"],
        department=row["department"],
        via=row["via"],
        at=row["at"],
        cause=row["cause"],
        reverts=row["reverts"],
    )


class GeoPackageEdits:
    """The live-edit half of the GeoPackage store (mixed into GeoPackageStore)."""

    def edit(self: "GeoPackageStore", record: LayerRecord, request: EditRequest) -> EditResult:
        """Apply one edit and record it, in one transaction (see the module docstring)."""
        con = self.connect(readonly=False)
        con.execute(f"PRAGMA busy_timeout = {BUSY_MS}")
        try:
            try:
                con.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as err:
                raise StoreBusy(f"the store {self.path} is busy with another writer ({err})") from None
            try:
                result = self._apply(con, record, request)
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        except sqlite3.DatabaseError as err:
            raise StoreError(f"cannot edit {record.layer_id} in {self.path}: {err}") from None
        finally:
            con.close()
        return result

    def _apply(self: "GeoPackageStore", con: sqlite3.Connection, record: LayerRecord, request: EditRequest):
        row = con.execute(
            "SELECT version, edit_seq, feature_count, bbox FROM tg_layer_versions"
            " WHERE layer_id = ? AND current = 1",
            (record.layer_id,),
        ).fetchone()
        check_current(record, row["version"] if row else None, request)
        if not _has_rev(con, record.table):
            con.execute(f'ALTER TABLE "{record.table}" ADD COLUMN _rev INTEGER NOT NULL DEFAULT 1')
        state = _state(con, record, request.feature_id, rev=True)
        added = _added_revision(con, record, request.feature_id) if request.kind == "add" else 1
        step = plan(request, state, record.columns, record.id_column, added)
        if step is None:
            return EditResult(
                None, self.version(record.layer_id, record.version), request.feature_id, state.revision
            )
        count = row["feature_count"] + _write(con, record, step)
        seq, at = row["edit_seq"] + 1, now_utc()
        bbox = json.loads(row["bbox"]) if row["bbox"] else None
        grown = union(tuple(bbox) if bbox else None, step.bounds)
        con.execute(
            "UPDATE tg_layer_versions SET edit_seq = ?, edited_at = ?, feature_count = ?, bbox = ?"
            " WHERE layer_id = ? AND version = ?",
            (seq, at, count, json.dumps(list(grown)) if grown else None, record.layer_id, record.version),
        )
        change = _record_change(con, record, step, seq, at)
        con.execute("UPDATE tg_meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'")
        after = con.execute(
            f"SELECT {self.RECORD_COLUMNS} FROM tg_layer_versions WHERE layer_id = ? AND version = ?",
            (record.layer_id, record.version),
        ).fetchone()
        return EditResult(change, self.record_of(after), request.feature_id, step.revision)

    def revision(self: "GeoPackageStore", record: LayerRecord, feature_id: str) -> int | None:
        """The feature's revision (1 until its first edit), None when there is no such feature."""
        con = self._reader()
        try:
            state = _state(con, record, feature_id, rev=_has_rev(con, record.table))
        except sqlite3.OperationalError as err:
            raise StoreError(f"cannot read {record.layer_id} in {self.path}: {err}") from None
        return state.revision if state else None

    def changes(
        self: "GeoPackageStore",
        layer_id: str | None = None,
        *,
        after: int = 0,
        version: int | None = None,
        feature_id: str | None = None,
        limit: int = 1000,
    ) -> list[Change]:
        """Recorded changes with ids above ``after``, oldest first."""
        if not self.path.exists():
            return []
        clauses, args = ["id > ?"], [after]
        for column, value in (("layer_id", layer_id), ("version", version), ("feature_id", feature_id)):
            if value is not None:
                clauses.append(f"{column} = ?")
                args.append(str(value) if column == "feature_id" else value)
        statement = (
            f"SELECT {CHANGE_COLUMNS} FROM tg_changes WHERE {' AND '.join(clauses)} ORDER BY id LIMIT ?"
        )
        try:
            rows = self._reader().execute(statement, (*args, limit)).fetchall()
        except sqlite3.OperationalError as err:
            if "no such table" in str(err):
                return []
            raise StoreError(f"cannot read the changes in {self.path}: {err}") from None
        return [change_from_row(r) for r in rows]

    def tile_seq(self: "GeoPackageStore", record: LayerRecord, z: int, x: int, y: int) -> int:
        """The last edit sequence that touched the tile (or the whole layer); 0 when none."""
        if not record.edit_seq:
            return 0
        row = (
            self._reader()
            .execute(
                "SELECT MAX(seq) FROM tg_tile_touches WHERE layer_id = ? AND version = ? AND"
                " ((z = ? AND x = ? AND y = ?) OR (z = ? AND x = ? AND y = ?))",
                (record.layer_id, record.version, z, x, y, *WHOLE_LAYER),
            )
            .fetchone()
        )
        return int(row[0] or 0)
