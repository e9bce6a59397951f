"""Map-schema step: source columns -> published fields, with types, code lists and checks."""

import re
from fnmatch import fnmatchcase
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from etl.formats import FormatError
from etl.source import ROW
from tsukuba_gis.layerdef import FieldDef, LayerDef
from tsukuba_gis.store import Reject

TRUE = {"1", "true", "t", "yes", "y", "○", "◯", "有", "はい", "あり"}
FALSE = {"0", "false", "f", "no", "n", "×", "無", "いいえ", "なし", ""}
MAX_EXAMPLES = 5
_INTEGRAL_FLOAT = re.compile(r"^(-?\d+)\.0*$")


@dataclass
class Warnings:
    """Warnings of a layer run, grouped by message, with a few examples each."""

    items: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def add(self, message: str, example: str | None = None) -> None:
        """Count one occurrence; keep the first few examples."""
        self.counts[message] += 1
        if example is not None and len(self.items[message]) < MAX_EXAMPLES:
            self.items[message].append(example)

    def as_list(self) -> list[dict[str, Any]]:
        """JSON-able, for the report."""
        return [{"message": m, "count": n, "examples": self.items.get(m, [])}
                for m, n in self.counts.items()]


def check_columns(layer: LayerDef, columns: list[str], label: str, warnings: Warnings) -> None:
    """Fail when a mapped column is missing; warn about columns nobody mapped or dropped."""
    wanted = {f.source_column for f in layer.fields if f.source_column}
    missing = sorted(c for c in wanted if c not in columns)
    if missing:
        raise FormatError(f"{label}: column(s) {', '.join(missing)} named in the layer definition are"
                          f" not in the file (its columns: {', '.join(columns)})")
    unmapped = [c for c in columns
                if c not in wanted and not any(fnmatchcase(c, pattern) for pattern in layer.drop)]
    if unmapped:
        warnings.add(f"{label}: columns neither mapped nor listed under drop (dropped by accident?):"
                     f" {', '.join(unmapped)}")


def _code_key(value: Any) -> str:
    text = str(value).strip()
    match = _INTEGRAL_FLOAT.match(text)
    return match.group(1) if match else text


def _to_text(raw: pd.Series) -> pd.Series:
    text = raw.map(lambda v: None if v is None or (isinstance(v, float) and np.isnan(v))
                   else _code_key(v) if isinstance(v, float) else str(v).strip())
    return text.where(text != "", None)


def _coerce(raw: pd.Series, kind: str) -> pd.Series:
    text = _to_text(raw)
    if kind == "string":
        return text.astype(object)
    if kind in ("integer", "number"):
        numbers = pd.to_numeric(text.str.replace(",", "", regex=False), errors="coerce")
        if kind == "integer":
            numbers = numbers.where(numbers.isna() | (numbers == np.floor(numbers)))
            return numbers.astype("Int64")
        return numbers.astype("Float64")
    if kind == "boolean":
        lowered = text.fillna("").str.lower()
        mapped = lowered.map(lambda v: True if v in TRUE else False if v in FALSE else None)
        return mapped.where(raw.notna(), None).astype(object)
    parsed = pd.to_datetime(text, errors="coerce", format="mixed")
    return parsed.dt.strftime("%Y-%m-%d").where(parsed.notna(), None).astype(object)


def _map_field(frame: gpd.GeoDataFrame, spec: FieldDef, label: str, warnings: Warnings) -> pd.Series:
    if spec.source_column is None:
        return pd.Series([spec.value] * len(frame), index=frame.index, dtype=object)
    raw = frame[spec.source_column]
    if spec.codes is not None:
        keys = _to_text(raw)
        values = keys.map(lambda k: None if k is None else spec.codes.get(k))
        for row, key in zip(frame[ROW][keys.notna() & values.isna()], keys[keys.notna() & values.isna()], strict=True):
            warnings.add(f"{label}: {spec.name}: code not in the code list (left empty)", f"row {row}: {key!r}")
        return values.astype(object)
    value = _coerce(raw, spec.type)
    failed = _to_text(raw).notna() & value.isna()
    for row, bad in zip(frame[ROW][failed], raw[failed], strict=True):
        warnings.add(f"{label}: {spec.name}: not a valid {spec.type} (left empty)", f"row {row}: {bad!r}")
    return value


def map_fields(frame: gpd.GeoDataFrame, layer: LayerDef, label: str, warnings: Warnings
               ) -> tuple[gpd.GeoDataFrame, list[Reject]]:
    """The published table of a chunk; rows missing a required field become rejects."""
    data = {spec.name: _map_field(frame, spec, label, warnings) for spec in layer.fields}
    out = gpd.GeoDataFrame(data, geometry=frame.geometry, crs=frame.crs, index=frame.index)
    out[ROW] = frame[ROW]
    required = [f.name for f in layer.fields if f.required]
    empty = out[required].isna().any(axis=1) if required else pd.Series(False, index=out.index)
    rejects = []
    for idx in out.index[empty]:
        names = [n for n in required if pd.isna(out.at[idx, n])]
        source_row = frame.loc[idx].drop([ROW, frame.geometry.name]).to_dict()
        rejects.append(Reject(source=label, row=int(out.at[idx, ROW]),
                              reason=f"required field(s) empty: {', '.join(names)}",
                              attributes=source_row))
    return out[~empty], rejects
