"""What a reader hands to the pipeline: an opened source file and its chunks of features."""

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd

from tsukuba_gis.store import Reject

ROW = "_row"  # 1-based row number in the source file, carried through every step


@dataclass
class Chunk:
    """Features read from a source (source columns, ``_row``, CRS set), and unreadable rows."""

    frame: gpd.GeoDataFrame
    rejects: list[Reject] = field(default_factory=list)


@dataclass
class OpenedSource:
    """A readable source file.

    Attributes:
        label: how reports name the file (path relative to the sources directory).
        columns: the source's attribute columns.
        crs: the CRS the features are in, from the file or the definition.
        decisions: encoding/CRS choices and why, for the report.
        feature_count: the count the file header claims, if known.
        quiet_columns: columns of the format's own structure (KML's ``tessellate``...): no
            "unmapped" warning when a definition leaves them out.
    """

    path: Path
    label: str
    columns: list[str]
    crs: str
    decisions: dict[str, str]
    feature_count: int | None
    chunks: Iterator[Chunk]
    quiet_columns: tuple[str, ...] = ()
