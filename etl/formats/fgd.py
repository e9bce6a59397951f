"""GSI 基盤地図情報 (Fundamental Geospatial Data, FGD) JPGIS-GML: one row per feature.

Parse strategy: lxml ``iterparse``, one feature at a time (cleared once read: a whole 2nd-mesh
BldA file streams with flat memory), not GDAL. GDAL 3.12 reads the samples correctly (its GML
registry knows the FGD schema and swaps the ``fguuid:jgd20xx.bl`` lat,lon order), and our
geometries equal its coordinate for coordinate. We still read the XML ourselves because:

- ``fguuid:jgd2024.bl`` (files published since 2025) gets a custom "JGD2024" CRS from GDAL
  with no EPSG code; JGD2024 changed heights only, its latitude/longitude are JGD2011's, so
  it is EPSG:6668 here;
- the reader then behaves like the CityGML one: FormatError with file, element and line, the
  same ``_row``/``feature_type`` columns, and no ``.gfs`` side files next to a hand-over.

Sample timings: BldA (3 polygons), RdCompt (2 lines) ~1.5 ms each (GDAL ~2 ms).

CRS (srsName): ``fguuid:jgd2011.bl`` -> EPSG:6668, ``fguuid:jgd2024.bl`` -> EPSG:6668,
``fguuid:jgd2000.bl`` -> EPSG:4612 (left in JGD2000: the JGD2000->JGD2011 shift needs
PatchJGD grids, the pipeline's job). All are latitude, longitude in ``gml:posList``; we return
x=lon, y=lat. The FGD download specification and schema (V4.1) define no plane-rectangular
srsName, so none is guessed: anything else raises FormatError.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from lxml import etree

from etl.formats import FormatError, gml
from etl.source import ROW

FGD_CRS = {
    "fguuid:jgd2011.bl": "EPSG:6668",
    "fguuid:jgd2024.bl": "EPSG:6668",  # JGD2024 revised heights only; lat/lon are JGD2011
    "fguuid:jgd2000.bl": "EPSG:4612",
}
# Properties the schema (FGD_GMLSchema.xsd V4.1) types as xs:double / xs:integer; all others
# are strings or string enumerations (orgGILvl "2500" is an enumeration value, not a number).
_NUMERIC = {"alti": float, "B": float, "L": float, "gh": float, "altiAcc": int}
_XLINK_HREF = "{http://www.w3.org/1999/xlink}href"
_TIME = {"timePosition", "TimeInstant"}  # lfSpanFr, devDate: gml:TimeInstantType


def _join(pieces: list[np.ndarray]) -> np.ndarray:
    # Consecutive segments / ring members share their joining point: keep it once.
    joined = [pieces[0]] + [
        p[1:] if np.array_equal(p[0], prev[-1]) else p for prev, p in zip(pieces, pieces[1:], strict=False)
    ]
    return np.vstack(joined)


@dataclass
class _Reader:
    """Geometry of one file; the srsName of its first geometry is the file's CRS."""

    path: Path
    crs: str | None = None

    def coords(self, el: etree._Element, srs_name: str | None) -> np.ndarray:
        """(n, 2) lon/lat from a gml:posList or gml:pos written lat lon."""
        crs = FGD_CRS.get(srs_name or "")
        if crs is None:
            raise gml.fail(self.path, el, f"unknown srsName {srs_name!r} (known: {', '.join(FGD_CRS)})")
        if self.crs is None:
            self.crs = crs
        elif crs != self.crs:
            raise gml.fail(
                self.path,
                el,
                f"srsName {srs_name} ({crs}) differs from the file's {self.crs}: one file must have one CRS",
            )
        try:
            values = np.array((el.text or "").split(), dtype=float)
        except ValueError:
            raise gml.fail(self.path, el, "coordinates are not numbers") from None
        if values.size == 0 or values.size % 2:
            raise gml.fail(self.path, el, f"{values.size} numbers do not make lat lon pairs")
        return values.reshape(-1, 2)[:, ::-1]

    def curve(self, el: etree._Element, srs: str | None) -> np.ndarray:
        """A gml:Curve (segments of LineStringSegment) or gml:LineString as one array."""
        pieces = [self.coords(pos, srs) for pos in el.iter("{*}posList")]
        if not pieces:
            raise gml.fail(self.path, el, "curve without gml:posList")
        return _join(pieces)

    def ring(self, boundary: etree._Element, srs: str | None) -> np.ndarray:
        # gml:Ring of gml:curveMember (FGD), or a plain gml:LinearRing.
        curves = [next(gml.children(m), None) for m in boundary.iter("{*}curveMember")]
        if any(c is None for c in curves):
            raise gml.fail(self.path, boundary, "curveMember by reference (xlink) is not supported")
        return _join([self.curve(c, srs) for c in curves]) if curves else self.curve(boundary, srs)

    def polygon(self, patch: etree._Element, srs: str | None) -> shapely.Polygon:
        rings = [self.ring(b, srs) for b in gml.children(patch) if gml.local(b) in {"exterior", "interior"}]
        if not rings:
            raise gml.fail(self.path, patch, "polygon without an exterior ring")
        try:
            return shapely.Polygon(rings[0], rings[1:])
        except (ValueError, shapely.errors.GEOSException) as err:
            raise gml.fail(self.path, patch, f"bad ring: {err}") from None

    def geometry(self, el: etree._Element):
        """Surface -> Polygon (MultiPolygon if several patches), Curve -> LineString, Point."""
        srs = el.get("srsName")
        name = gml.local(el)
        if name in {"Surface", "Polygon"}:
            patches = list(el.iter("{*}PolygonPatch", "{*}Polygon")) or [el]
            polygons = [self.polygon(p, srs) for p in patches]
            return polygons[0] if len(polygons) == 1 else shapely.MultiPolygon(polygons)
        if name in {"Curve", "LineString"}:
            return shapely.LineString(self.curve(el, srs))
        if name == "Point":
            pos = el.find("{*}pos")
            if pos is None:
                raise gml.fail(self.path, el, "point without gml:pos")
            return shapely.Point(self.coords(pos, srs)[0])
        raise gml.fail(self.path, el, f"geometry type gml:{name} is not supported")


def _property(el: etree._Element) -> str | None:
    """The value of a non-geometry property: text, time position or referenced gml:id."""
    first = next(gml.children(el), None)
    if first is None:
        text = (el.text or "").strip()
        return text or el.get(_XLINK_HREF, "").lstrip("#") or None
    if gml.local(first) in _TIME:
        position = first if gml.local(first) == "timePosition" else first.find("{*}timePosition")
        return None if position is None else (position.text or "").strip() or None
    return gml.gml_id(first)  # an association written inline: keep the referenced feature's id


def _feature(feature: etree._Element, reader: _Reader) -> tuple[dict, object]:
    values: dict[str, object] = {"gml_id": gml.gml_id(feature)}
    geometry = None
    for el in gml.children(feature):
        name = gml.local(el)
        first = next(gml.children(el), None)
        if name == "coverage":
            raise gml.fail(reader.path, el, "a DEM/geoid grid coverage is a raster: not read here")
        if gml.is_gml(el):
            continue  # gml:boundedBy and the like
        if first is not None and gml.is_gml(first) and gml.local(first) not in _TIME:
            geometry = reader.geometry(first)
            continue
        value = _property(el)
        if value is not None and name in _NUMERIC:
            try:
                value = _NUMERIC[name](value)
            except ValueError:
                raise gml.fail(reader.path, el, f"{value!r} is not a number") from None
        if name in values:  # repeated (compL): a list
            previous = values[name]
            values[name] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            values[name] = value
    return values, geometry


def _features(path: Path) -> Iterator[etree._Element]:
    """Each feature under the Dataset root, cleared from memory once the caller is done."""
    for el in gml.top_level(path, "Dataset", "not an FGD GML Dataset"):
        if not gml.is_gml(el):  # gml:description / gml:name describe the dataset
            yield el


def read_fgd_gml(path: Path) -> gpd.GeoDataFrame:
    """Features of a GSI 基盤地図情報 JPGIS-GML file (BldA, RdCompt, RdEdg, ElevPt, ...).

    Columns: ``_row`` (1-based order in the file), ``feature_type`` (element name, e.g.
    ``BldA``), ``gml_id``, then every simple property under its element name in first-seen
    order (``fid``, ``lfSpanFr``, ``devDate``, ``orgGILvl``, ``vis``, ``type``, ...). Time
    properties give their ISO date, associations (``repPt``, ``compL``) the referenced gml:id,
    ``alti``/``B``/``L``/``gh`` floats and ``altiAcc`` ints (as the schema types them);
    everything else stays a string. A property that repeats gives a list.

    Geometry in EPSG:6668 (or EPSG:4612 for ``fguuid:jgd2000.bl``), x=lon y=lat: surfaces as
    Polygon (MultiPolygon if several patches), curves as LineString, points as Point.
    Raises FormatError (file, line, element) for malformed XML, unknown srsName, bad
    coordinates, DEM coverages.
    """
    path = Path(path)
    reader = _Reader(path)
    rows: list[dict] = []
    geometries: list = []
    try:
        for row, feature in enumerate(_features(path), start=1):
            values, geometry = _feature(feature, reader)
            rows.append({ROW: row, "feature_type": gml.local(feature), **values})
            geometries.append(geometry)
    except etree.XMLSyntaxError as err:
        raise FormatError(f"{path}: line {err.lineno}: malformed XML: {err.msg}") from None
    frame = pd.DataFrame(rows, columns=None if rows else [ROW, "feature_type", "gml_id"])
    crs = reader.crs or FGD_CRS["fguuid:jgd2011.bl"]
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geometries, crs=crs))
