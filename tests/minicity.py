"""A tiny city for the scale-out and fault tests: one public CSV point layer, ``sites``.

Each hand-over writes ``n`` generated points whose ``edition`` column names the hand-over, so a
response tells by itself which version it came from (and whether it mixes two).
"""

import itertools
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tsukuba_gis.settings import PROJECT_ROOT

LAYER = """\
title: {ja: テスト地点, en: Test sites}
access: {access}
description: {ja: 生成した地点, en: Generated points}
license:
  attribution: {ja: テスト, en: Test}
source: {path: sites.csv, crs: "EPSG:6668", lat: lat, lon: lon}
geometry: point
id_field: site_id
title_field: name
fields:
  - {name: site_id, source: site_id, label: {ja: ID, en: ID}, required: true}
  - {name: name, source: name, label: {ja: 名称, en: Name}}
  - {name: edition, source: edition, label: {ja: 版, en: Edition}}
  - {name: rank, source: rank, type: integer, label: {ja: 順位, en: Rank}}
"""
_SCHEMAS = itertools.count()


class MiniCity:
    """Definitions, a generated source and a store (GeoPackage, or ``store`` URL).

    Attributes:
        root: the installation directory (layers/, sources/, data/).
        store: the TSUKUBA_GIS_STORE value ("" for the GeoPackage in data/).
    """

    def __init__(self, root: Path, store: str = "", access: str = "public"):
        self.root, self.store = root, store
        for sub in ("layers/test", "sources", "data"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        (root / "layers/test/_department.yaml").write_text("name: {ja: テスト, en: Test}\n", encoding="utf-8")
        (root / "layers/test/sites.yaml").write_text(LAYER.replace("{access}", access), encoding="utf-8")

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def source(self) -> Path:
        return self.root / "sources" / "sites.csv"

    @property
    def env(self) -> dict[str, str]:
        """The environment of a server or ETL process of this city."""
        return {
            "TSUKUBA_GIS_DATA_DIR": str(self.data_dir),
            "TSUKUBA_GIS_STORE": self.store,
            "TSUKUBA_GIS_LAYERS_DIR": str(self.root / "layers"),
            "TSUKUBA_GIS_SOURCES_DIR": str(self.root / "sources"),
        }

    def hand_over(self, n: int, edition: str) -> None:
        """A new source file: ``n`` points in Tsukuba, every row tagged with ``edition``."""
        rng = np.random.default_rng(n)
        ids = np.arange(1, n + 1)
        pd.DataFrame(
            {
                "site_id": [f"S{i:07d}" for i in ids],
                "name": [f"地点{i}" for i in ids],
                "edition": edition,
                "rank": ids % 97,
                "lon": np.round(rng.uniform(140.00, 140.20, n), 7),
                "lat": np.round(rng.uniform(36.00, 36.20, n), 7),
            }
        ).to_csv(self.source, index=False)

    def etl_process(self, *args: str) -> subprocess.Popen:
        """``tsukuba-gis etl ARGS`` as a child process (output in data/etl.log)."""
        cli = shutil.which("tsukuba-gis") or str(Path(sys.executable).parent / "tsukuba-gis")
        log = open(self.data_dir / "etl.log", "a")
        return subprocess.Popen(
            [cli, "-q", "etl", *args],
            env={**os.environ, **self.env},
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=PROJECT_ROOT,
        )

    def etl(self, *args: str, timeout: float = 120) -> None:
        """Run the ETL to the end; fail with its output when it fails."""
        process = self.etl_process(*args)
        assert process.wait(timeout=timeout) == 0, (self.data_dir / "etl.log").read_text()


def loaded_city(request: pytest.FixtureRequest, root: Path, n: int, access: str = "public") -> MiniCity:
    """A MiniCity with a first hand-over of ``n`` points (edition "A") loaded, on the store the
    fixture's param names: "gpkg", or "postgis" (a schema of its own in the test database; the
    fixture may be of any scope)."""
    store = ""
    if request.param == "postgis":
        store = f"{request.getfixturevalue('postgis_test_db')}?schema=city_{next(_SCHEMAS)}"
    city = MiniCity(root, store, access)
    city.hand_over(n, "A")
    city.etl()
    return city
