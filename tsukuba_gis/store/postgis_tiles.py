"""Encoded tiles shared by every server process on one PostGIS database (for issue 6).

An UNLOGGED table on the primary: no WAL, so writing tiles costs little and never reaches the
replicas (a standby cannot read unlogged tables; every server process talks to the primary for
the cache only). Keys carry the layer version, so a new version never serves old tiles; pruning
a version deletes its tiles. A crash empties the table, which is what a cache may do.
"""

from typing import TYPE_CHECKING

from psycopg import sql

from tsukuba_gis.store.base import TileCache

if TYPE_CHECKING:
    from tsukuba_gis.store.postgis import PostGISStore


class PostGISTileCache(TileCache):
    """The ``tg_tile_cache`` table of one store schema."""

    def __init__(self, store: "PostGISStore"):
        self.store = store
        self._table = sql.Identifier(store.schema, "tg_tile_cache")

    def get(self, layer_id: str, version: int, variant: str, z: int, x: int, y: int
            ) -> bytes | None:
        """The cached tile, or None."""
        statement = sql.SQL("SELECT tile FROM {} WHERE layer_id = %s AND version = %s AND"
                            " variant = %s AND z = %s AND x = %s AND y = %s").format(self._table)
        row = self.store.primary_pool().run(
            lambda conn: conn.execute(statement, (layer_id, version, variant, z, x, y)).fetchone())
        return bytes(row[0]) if row else None

    def put(self, layer_id: str, version: int, variant: str, z: int, x: int, y: int,
            tile: bytes) -> None:
        """Keep a tile (the first writer wins when two workers made the same one)."""
        statement = sql.SQL("INSERT INTO {} (layer_id, version, variant, z, x, y, tile)"
                            " VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING"
                            ).format(self._table)
        self.store.primary_pool().run(
            lambda conn: conn.execute(statement, (layer_id, version, variant, z, x, y, tile)))

    def clear(self, layer_id: str | None = None) -> int:
        """Forget the tiles of one layer (all layers when None); how many were removed."""
        statement = sql.SQL("DELETE FROM {}").format(self._table)
        args: tuple = ()
        if layer_id is not None:
            statement = sql.SQL("{} WHERE layer_id = %s").format(statement)
            args = (layer_id,)
        return self.store.primary_pool().run(lambda conn: conn.execute(statement, args).rowcount)
