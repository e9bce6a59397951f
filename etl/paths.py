"""Paths of hand-overs: whatever a definition names must resolve inside the sources folder.

Definitions are checked when loaded (no absolute path, no ``..``: tsukuba_gis/layerdef.py), but
a symlink inside the folder can still lead anywhere: a "CSV" linked to ``/etc/passwd`` once
printed its first line into the ETL report. So the resolved path is checked before the file is
opened, with the same answer whether or not the target exists.
"""

from pathlib import Path

from etl.formats import FormatError

# A shapefile is several files; GDAL opens each beside the .shp.
SHAPEFILE_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg", ".qix", ".sbn")


def in_sources(sources_dir: Path, name: str, label: str) -> Path:
    """``sources_dir / name``; FormatError if it (or a shapefile part) resolves outside the folder."""
    path = sources_dir / name
    top = sources_dir.resolve()
    parts = [path.with_suffix(s) for s in SHAPEFILE_PARTS] if path.suffix.lower() == ".shp" else [path]
    for part in parts:
        if (part.is_symlink() or part == path) and not part.resolve().is_relative_to(top):
            raise FormatError(
                f"{label}: {part.name} is a link leading outside the sources folder; refused (put the"
                " department's file itself in the folder)"
            )
    return path
