"""Map-schema step: source columns -> published fields, with types, code lists and checks.

Everything is vectorised over a chunk: a 500,000-row layer must not pay a Python call per
value. Values that do not fit their type are left empty and reported with examples; rows
missing a required field are quarantined.
"""

import re
from collections import defaultdict
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pandas.api import types as ptypes

from etl.formats import FormatError
from etl.paths import in_sources
from etl.source import ROW
from tsukuba_gis.layerdef import FieldDef, LayerDef
from tsukuba_gis.store import Reject

TRUE = {"1", "true", "t", "yes", "y", "○", "◯", "有", "はい", "あり"}
FALSE = {"0", "false", "f", "no", "n", "×", "無", "いいえ", "なし"}
_BOOLEANS = {**dict.fromkeys(TRUE, True), **dict.fromkeys(FALSE, False)}
MAX_EXAMPLES = 5
# 和暦 (Japanese era) years: era start year - 1, so that 令和1年 = 2019.
ERAS = {"令和": 2018, "平成": 1988, "昭和": 1925, "R": 2018, "H": 1988, "S": 1925}
_ERA_DATE = re.compile(r"^(令和|平成|昭和|R|H|S)\s*(\d+|元)\s*[年.\-/]\s*(\d+)\s*[月.\-/]\s*(\d+)\s*日?$")
_KANJI_DATE = re.compile(r"^(\d{4})\s*年\s*(\d+)\s*月\s*(\d+)\s*日$")


@dataclass
class Warnings:
    """Warnings of a layer run, grouped by message, with a few examples each."""

    items: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def add(self, message: str, example: str | None = None, count: int = 1) -> None:
        """Count occurrences of a message; keep the first few examples."""
        self.counts[message] += count
        if example is not None and len(self.items[message]) < MAX_EXAMPLES:
            self.items[message].append(example)

    def add_rows(self, message: str, rows: pd.Series, values: pd.Series) -> None:
        """Count one occurrence per row; keep ``row N: value`` examples of the first few."""
        if len(rows):
            room = MAX_EXAMPLES - len(self.items[message])
            for row, value in zip(rows[:room], values[:room], strict=True):
                self.items[message].append(f"row {row}: {value!r}")
            self.counts[message] += len(rows)

    def as_list(self) -> list[dict[str, Any]]:
        """JSON-able, for the report."""
        return [{"message": m, "count": n, "examples": self.items.get(m, [])} for m, n in self.counts.items()]


def check_columns(
    layer: LayerDef, columns: list[str], label: str, warnings: Warnings, quiet: tuple[str, ...] = ()
) -> None:
    """Fail when a mapped column is missing; warn about columns nobody mapped or dropped."""
    wanted = {f.source_column for f in layer.fields if f.source_column}
    missing = sorted(c for c in wanted if c not in columns)
    if missing:
        raise FormatError(
            f"{label}: column(s) {', '.join(missing)} named in the layer"
            f" definition are not in the file (its columns: {', '.join(columns)});"
            " fix `source:` of those fields"
        )
    unmapped = [
        c
        for c in columns
        if c not in wanted and c not in quiet and not any(fnmatchcase(c, pattern) for pattern in layer.drop)
    ]
    if unmapped:
        warnings.add(
            f"{label}: columns neither mapped nor listed under drop (dropped by"
            f" accident?): {', '.join(unmapped)}"
        )


def code_tables(layer: LayerDef, sources_dir: Path) -> dict[str, dict[str, str]]:
    """Per field, its code -> label table: the ``codelist`` file, then ``codes`` on top."""
    from etl.formats.citygml import read_codelist

    tables = {}
    for spec in layer.fields:
        if spec.codelist is None and spec.codes is None:
            continue
        table: dict[str, str] = {}
        if spec.codelist is not None:
            path = in_sources(sources_dir, spec.codelist, f"{spec.codelist} (code list of field {spec.name})")
            if not path.is_file():
                raise FormatError(
                    f"{spec.codelist}: code list of field {spec.name} not found at"
                    f" {path}; put it there or fix `codelist:`"
                )
            table.update(read_codelist(path))
        table.update(spec.codes or {})
        tables[spec.name] = table
    return tables


def _is_number(raw: pd.Series) -> bool:
    return ptypes.is_numeric_dtype(raw.dtype) and not ptypes.is_bool_dtype(raw.dtype)


def _to_text(raw: pd.Series) -> pd.Series:
    """Values as stripped text (NA when missing or blank); integral floats lose their ``.0``."""
    if ptypes.is_float_dtype(raw.dtype):
        values = raw.to_numpy(dtype=float, na_value=np.nan)
        finite = np.isfinite(values)
        integral = finite & (values == np.floor(values)) & (np.abs(values) < 2.0**53)
        whole = np.where(integral, values, 0).astype(np.int64).astype(str)
        text = pd.Series(np.where(integral, whole, values.astype(str)), index=raw.index, dtype="string")
        return text.where(finite)
    if ptypes.is_datetime64_any_dtype(raw.dtype):
        return raw.dt.strftime("%Y-%m-%d").astype("string")
    text = raw.astype("string").str.strip()
    return text.where(text != "")


def _nfkc(text: pd.Series) -> pd.Series:
    """NFKC (full-width digits ３６．１ -> 36.1), applied only to the non-ASCII values (fast)."""
    wide = ~text.str.isascii().fillna(True)
    if wide.any():
        text = text.copy()
        text[wide] = text[wide].str.normalize("NFKC")
    return text


def _numbers(text: pd.Series) -> pd.Series:
    cleaned = _nfkc(text).str.replace(",", "", regex=False)
    return pd.to_numeric(cleaned, errors="coerce").astype("Float64")


def _dates(text: pd.Series) -> pd.Series:
    """ISO dates from ISO, slash, 2023年6月1日 and 和暦 (令和5年6月1日, R5.6.1) text.

    Parsed once per distinct value: a date column repeats a few values many times.
    """
    uniques = pd.Series(text.dropna().unique(), dtype="string")
    norm = _nfkc(uniques).str.strip()
    parsed = pd.to_datetime(norm.str.replace("/", "-", regex=False), format="ISO8601", errors="coerce")
    rest = parsed.isna()
    if rest.any():
        parsed[rest] = pd.to_datetime(norm[rest].map(_japanese_date), errors="coerce")
    iso = parsed.dt.strftime("%Y-%m-%d").where(parsed.notna(), None)
    return text.map(dict(zip(uniques, iso, strict=True))).astype(object)


def _japanese_date(text: str | None) -> str | None:
    if text is None or text is pd.NA:
        return None
    if match := _KANJI_DATE.match(text):
        return "-".join(match.groups())
    if match := _ERA_DATE.match(text):
        era, year, month, day = match.groups()
        return f"{ERAS[era] + (1 if year == '元' else int(year))}-{month}-{day}"
    return None


def _integers(numbers: pd.Series) -> pd.Series:
    return numbers.where(numbers.isna() | (numbers == np.floor(numbers))).astype("Int64")


def _coerce(raw: pd.Series, kind: str) -> tuple[pd.Series, pd.Series]:
    """(published values, whether the source had a value): a value that became NA failed."""
    if kind in ("integer", "number") and _is_number(raw):
        numbers = raw.astype("Float64")  # already numbers: no text round trip
        return (_integers(numbers) if kind == "integer" else numbers), numbers.notna()
    text = _to_text(raw)
    if kind == "string":
        return text, text.notna()
    if kind in ("integer", "number"):
        numbers = _numbers(text)
        return (_integers(numbers) if kind == "integer" else numbers), text.notna()
    if kind == "boolean":
        mapped = text.str.lower().astype(object).map(_BOOLEANS).astype(object)
        # A blank cell means "no" in Japanese check-mark columns; a missing value stays missing.
        mapped = mapped.where(text.notna(), False).where(raw.notna(), None)
        return mapped, text.notna()
    return _dates(text), text.notna()


def _map_field(
    frame: gpd.GeoDataFrame, spec: FieldDef, codes: dict[str, str] | None, label: str, warnings: Warnings
) -> pd.Series:
    if spec.source_column is None:
        return pd.Series([spec.value] * len(frame), index=frame.index, dtype=object)
    raw = frame[spec.source_column]
    if codes is not None:
        text = _to_text(raw)
        values = text.map(codes).astype(object)
        unknown = text.notna() & values.isna()
        warnings.add_rows(
            f"{label}: {spec.name}: code not in the code list (left empty)",
            frame[ROW][unknown],
            text[unknown],
        )
        return values.where(values.notna(), None)
    value, present = _coerce(raw, spec.type)
    failed = present & value.isna()
    warnings.add_rows(
        f"{label}: {spec.name} ({spec.source_column}): not a valid {spec.type} (left empty)",
        frame[ROW][failed],
        raw[failed],
    )
    return value


def map_fields(
    frame: gpd.GeoDataFrame,
    layer: LayerDef,
    label: str,
    warnings: Warnings,
    codes: dict[str, dict[str, str]] | None = None,
) -> tuple[gpd.GeoDataFrame, list[Reject]]:
    """The published table of a chunk; rows missing a required field become rejects."""
    codes = codes or {}
    data = {
        spec.name: _map_field(frame, spec, codes.get(spec.name), label, warnings) for spec in layer.fields
    }
    out = gpd.GeoDataFrame(data, geometry=frame.geometry, crs=frame.crs, index=frame.index)
    out[ROW] = frame[ROW]
    required = [f.name for f in layer.fields if f.required]
    empty = out[required].isna().any(axis=1).to_numpy() if required else np.zeros(len(out), dtype=bool)
    return out[~empty], _required_rejects(frame, out, empty, required, label)


def _required_rejects(frame, out, empty: np.ndarray, required: list[str], label: str) -> list[Reject]:
    rejects = []
    for idx in out.index[empty]:
        names = [n for n in required if pd.isna(out.at[idx, n])]
        geom = frame.geometry.at[idx]
        rejects.append(
            Reject(
                source=label,
                row=int(out.at[idx, ROW]),
                reason=f"required field(s) empty: {', '.join(names)}; fill them in the source",
                attributes=frame.loc[idx].drop([ROW, frame.geometry.name]).to_dict(),
                geometry_wkt=shapely.to_wkt(geom, rounding_precision=7) if geom is not None else None,
            )
        )
    return rejects
