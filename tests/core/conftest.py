"""Fixtures of the store tests: empty stores of each backend (GeoPackage, PostGIS)."""

import pytest

from tsukuba_gis.store import Store
from tsukuba_gis.store.gpkg import GeoPackageStore
from tsukuba_gis.store.postgis import PostGISStore


@pytest.fixture(params=["gpkg", "postgis"])
def make_store(request, tmp_path):
    """Make empty stores of one backend (``keep_versions`` as asked)."""
    made: list[Store] = []

    def make(keep_versions: int = 5) -> Store:
        if request.param == "gpkg":
            store: Store = GeoPackageStore(str(tmp_path / f"s{len(made)}.gpkg"), keep_versions)
        else:
            store = PostGISStore(request.getfixturevalue("postgis_url"), keep_versions)
        made.append(store)
        return store

    yield make
    for store in made:
        store.close()


@pytest.fixture
def store(make_store) -> Store:
    return make_store()
