"""Live edits of the PostGIS store: in place, on the current version's table.

An edit is one transaction on a pooled connection to the primary: the layer's advisory lock in
shared mode (edits of one layer run side by side, an ETL of it takes the lock exclusively and
waits for them, and they for it), the registry row ``FOR UPDATE`` (edits of one layer take
turns on their edit sequence), the feature row ``FOR UPDATE``, its ``_rev`` revision column
(added on the table's first edit), the change row and its change record (postgis_outbox.py),
the touched tiles and the generation.

A connection that breaks before the commit is retried on a fresh one (nothing was applied); one
that breaks during the commit is not (it may have been applied): the caller gets a 503 and reads
the feature again. Waiting over ``LOCK_TIMEOUT`` for an ETL or another editor is a 503 too.
"""

import json
from datetime import UTC
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import sql

from tsukuba_gis.errors import StoreBusy, StoreUnavailable
from tsukuba_gis.store.base import Change, EditRequest, EditResult, LayerRecord
from tsukuba_gis.store.editing import FeatureState, Plan, change_of, check_current, now_utc, plan
from tsukuba_gis.store.outbox import record_of_edit
from tsukuba_gis.store.postgis_outbox import insert_records
from tsukuba_gis.store.postgis_query import _NEVER, coerce
from tsukuba_gis.tiles.touch import WHOLE_LAYER, touched_tiles, union

if TYPE_CHECKING:
    from tsukuba_gis.store.postgis import PostGISStore

LOCK_TIMEOUT = "5s"
CHANGE_COLUMNS = (
    "id, layer_id, version, seq, feature_id, kind, before, after, geometry_before, geometry_after,"
    " min_x, min_y, max_x, max_y, rev_before, rev_after, username, department, via, at, cause, reverts"
)


def edit_lock(conn: psycopg.Connection, schema: str, layer_id: str) -> None:
    """The layer's writer lock (postgis_write.layer_lock) in shared mode, until the commit."""
    conn.execute(
        "SELECT pg_advisory_xact_lock_shared(hashtextextended(%s, 0))",
        (f"tsukuba-gis layer {schema}.{layer_id}",),
    )


def _key(record: LayerRecord, feature_id: str) -> tuple[sql.Composable, Any]:
    if record.id_column:
        kind = next(c.type for c in record.columns if c.name == record.id_column)
        return sql.Identifier(record.id_column), coerce(kind, feature_id)
    return sql.SQL("fid"), coerce("integer", feature_id)


def _state(
    conn: psycopg.Connection,
    table: sql.Composable,
    record: LayerRecord,
    feature_id: str,
    lock: bool,
    rev: bool,
) -> FeatureState | None:
    column, value = _key(record, feature_id)
    if value is _NEVER:
        return None
    names = [c.name for c in record.columns]
    statement = sql.SQL("SELECT fid, ST_AsBinary(geom), {}{} FROM {} WHERE {} = %s LIMIT 1{}").format(
        sql.SQL("_rev" if rev else "1"),
        sql.SQL("").join(sql.SQL(", ") + sql.Identifier(n) for n in names),
        table,
        column,
        sql.SQL(" FOR UPDATE" if lock else ""),
    )
    row = conn.execute(statement, (value,)).fetchone()
    if row is None:
        return None
    return FeatureState(row[0], dict(zip(names, row[3:], strict=True)), bytes(row[1]), row[2])


def _write(conn: psycopg.Connection, table: sql.Composable, record: LayerRecord, step: Plan) -> int:
    """Write the plan into the version's table; the feature count change."""
    names = [c.name for c in record.columns]
    state, after = step.before, step.after
    if after is None:
        conn.execute(sql.SQL("DELETE FROM {} WHERE fid = %s").format(table), (state.fid,))
        return -1
    values = [after[n] for n in names]
    columns = sql.SQL("").join(sql.SQL(", ") + sql.Identifier(n) for n in names)
    if state is None:
        fid = conn.execute(sql.SQL("SELECT coalesce(max(fid), 0) + 1 FROM {}").format(table)).fetchone()[0]
        conn.execute(
            sql.SQL("INSERT INTO {} (fid, geom, _rev{}) VALUES (%s, ST_GeomFromWKB(%s, 4326), %s{})").format(
                table, columns, sql.SQL("").join(sql.SQL(", %s") for _ in names)
            ),
            (fid, step.wkb, step.revision, *values),
        )
        return 1
    sets = [sql.SQL("{} = %s").format(sql.Identifier(n)) for n in names] + [sql.SQL("_rev = %s")]
    args: list[Any] = [*values, step.revision]
    if step.wkb is not None:
        sets.append(sql.SQL("geom = ST_GeomFromWKB(%s, 4326)"))
        args.append(step.wkb)
    conn.execute(
        sql.SQL("UPDATE {} SET {} WHERE fid = %s AND _rev = %s").format(table, sql.SQL(", ").join(sets)),
        (*args, state.fid, state.revision),
    )
    return 0


def change_from_row(row: tuple) -> Change:
    """A Change from a ``tg_changes`` row (CHANGE_COLUMNS)."""
    values = dict(zip(CHANGE_COLUMNS.replace(" ", "").split(","), row, strict=True))
    box = (values.pop("min_x"), values.pop("min_y"), values.pop("max_x"), values.pop("max_y"))
    for name in ("geometry_before", "geometry_after"):
        values[name] = bytes(values[name]) if values[name] is not None else None
    values["at"] = values["at"].astimezone(UTC).isoformat(timespec="milliseconds")
    values["user"] = values.pop("username")
    return Change(**values, bounds=None if box[0] is None else box)


class PostGISEdits:
    """The live-edit half of the PostGIS store (mixed into PostGISStore)."""

    def edit(self: "PostGISStore", record: LayerRecord, request: EditRequest) -> EditResult:
        """Apply one edit and record it, in one transaction (see the module docstring)."""
        committing = [False]

        def attempt(conn: psycopg.Connection) -> EditResult:
            if committing[0]:  # the first attempt broke during its commit: it may have been applied
                raise StoreUnavailable(
                    f"the connection to {self.where} broke while an edit of {record.layer_id} was"
                    " committed; read the feature again to see whether it was saved"
                )
            try:
                with conn.transaction():
                    conn.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
                    edit_lock(conn, self.schema, record.layer_id)
                    result = self._apply(conn, record, request)
                    committing[0] = True
            except psycopg.errors.LockNotAvailable:
                raise StoreBusy(
                    f"{record.layer_id} in {self.where} stayed locked over {LOCK_TIMEOUT} (an ETL?)"
                ) from None
            return result

        return self.primary_pool().run(attempt)

    def _apply(self: "PostGISStore", conn: psycopg.Connection, record: LayerRecord, request: EditRequest):
        current = conn.execute(
            self._s(
                "SELECT version, edit_seq, feature_count, bbox FROM {s}.tg_layer_versions"
                " WHERE layer_id = %s AND current FOR UPDATE"
            ),
            (record.layer_id,),
        ).fetchone()
        check_current(record, current[0] if current else None, request)
        table = sql.Identifier(self.schema, record.table)
        if not self._has_rev(conn, record):
            alter = "ALTER TABLE {} ADD COLUMN IF NOT EXISTS _rev integer NOT NULL DEFAULT 1"
            conn.execute(sql.SQL(alter).format(table))
        state = _state(conn, table, record, request.feature_id, lock=True, rev=True)
        added = self._added_revision(conn, record, request.feature_id) if request.kind == "add" else 1
        step = plan(request, state, record.columns, record.id_column, added)
        if step is None:
            return EditResult(
                None,
                self.read_version(conn, record.layer_id, record.version),
                request.feature_id,
                state.revision,
            )
        count = current[2] + _write(conn, table, record, step)
        seq, at = current[1] + 1, now_utc()
        grown = union(tuple(current[3]) if current[3] else None, step.bounds)
        conn.execute(
            self._s(
                "UPDATE {s}.tg_layer_versions SET edit_seq = %s, edited_at = %s, feature_count = %s,"
                " bbox = %s WHERE layer_id = %s AND version = %s"
            ),
            (seq, at, count, list(grown) if grown else None, record.layer_id, record.version),
        )
        change = self._record_change(conn, record, step, seq, at)
        self.bump_generation(conn)
        return EditResult(
            change,
            self.read_version(conn, record.layer_id, record.version),
            request.feature_id,
            step.revision,
        )

    def _has_rev(self: "PostGISStore", conn: psycopg.Connection, record: LayerRecord) -> bool:
        row = conn.execute(
            "SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass(%s) AND attname = '_rev'"
            " AND NOT attisdropped",
            (f'"{self.schema}"."{record.table}"',),
        ).fetchone()
        return row is not None

    def _added_revision(
        self: "PostGISStore", conn: psycopg.Connection, record: LayerRecord, feature_id: str
    ) -> int:
        row = conn.execute(
            self._s(
                "SELECT max(greatest(coalesce(rev_before, 0), coalesce(rev_after, 0))) FROM {s}.tg_changes"
                " WHERE layer_id = %s AND version = %s AND feature_id = %s"
            ),
            (record.layer_id, record.version, str(feature_id)),
        ).fetchone()
        return (row[0] or 0) + 1

    def _record_change(
        self: "PostGISStore", conn: psycopg.Connection, record: LayerRecord, step: Plan, seq: int, at: str
    ) -> Change:
        draft = change_of(step, 0, record, seq, at)
        box = draft.bounds or (None, None, None, None)
        row = conn.execute(
            self._s(
                f"INSERT INTO {{s}}.tg_changes ({CHANGE_COLUMNS.removeprefix('id, ')}) VALUES"
                " (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
                " RETURNING id"
            ),
            (
                draft.layer_id,
                draft.version,
                draft.seq,
                draft.feature_id,
                draft.kind,
                json.dumps(draft.before, ensure_ascii=False, default=str)
                if draft.before is not None
                else None,
                json.dumps(draft.after, ensure_ascii=False, default=str) if draft.after is not None else None,
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
        ).fetchone()
        with conn.cursor() as cursor:
            cursor.executemany(
                self._s(
                    "INSERT INTO {s}.tg_tile_touches VALUES (%s, %s, %s, %s, %s, %s)"
                    " ON CONFLICT (layer_id, version, z, x, y) DO UPDATE SET seq = excluded.seq"
                ),
                [
                    (record.layer_id, record.version, z, x, y, seq)
                    for z, x, y in touched_tiles([draft.bounds])
                ],
            )
        change = change_of(step, row[0], record, seq, at)
        geometry = step.wkb or (step.before.wkb if step.before else None)
        insert_records(conn, self.schema, [record_of_edit(change, geometry)])
        return change

    def revision(self: "PostGISStore", record: LayerRecord, feature_id: str) -> int | None:
        """The feature's revision (1 until its first edit), None when there is no such feature.

        Read where the features are read (a replica when set), before the feature itself: an
        ETag is never newer than the body it is sent with.
        """

        def read(conn: psycopg.Connection) -> int | None:
            table = sql.Identifier(self.schema, record.table)
            state = _state(conn, table, record, feature_id, lock=False, rev=self._has_rev(conn, record))
            return state.revision if state else None

        return self._read(lambda conn: self._on_table(record, lambda c, *_: read(c), conn))

    def changes(
        self: "PostGISStore",
        layer_id: str | None = None,
        *,
        after: int = 0,
        version: int | None = None,
        feature_id: str | None = None,
        limit: int = 1000,
    ) -> list[Change]:
        """Recorded changes with ids above ``after``, oldest first."""
        clauses, args = ["id > %s"], [after]
        for column, value in (("layer_id", layer_id), ("version", version), ("feature_id", feature_id)):
            if value is not None:
                clauses.append(f"{column} = %s")
                args.append(str(value) if column == "feature_id" else value)
        where = " AND ".join(clauses)
        statement = self._s(
            f"SELECT {CHANGE_COLUMNS} FROM {{s}}.tg_changes WHERE {where} ORDER BY id LIMIT %s"
        )

        def read(conn: psycopg.Connection) -> list[Change]:
            try:
                return [change_from_row(r) for r in conn.execute(statement, (*args, limit)).fetchall()]
            except psycopg.errors.UndefinedTable:
                return []

        return self._read(read)

    def tile_seq(self: "PostGISStore", record: LayerRecord, z: int, x: int, y: int) -> int:
        """The last edit sequence that touched the tile (or the whole layer); 0 when none."""
        if not record.edit_seq:
            return 0
        statement = self._s(
            "SELECT max(seq) FROM {s}.tg_tile_touches WHERE layer_id = %s AND version = %s AND"
            " ((z = %s AND x = %s AND y = %s) OR (z = %s AND x = %s AND y = %s))"
        )
        args = (record.layer_id, record.version, z, x, y, *WHOLE_LAYER)
        row = self._read(lambda conn: conn.execute(statement, args).fetchone())
        return int(row[0] or 0)
