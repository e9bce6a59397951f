"""What each audience sees, as of one store generation: one immutable object per audience.

The public and the staff side each get a :class:`Snapshot`: the layers the audience may see
that have data, in the one order every route lists them (department order, department, layer
id), with the pygeoapi API object made from them, their tile sets, the search index, the area
the data covers and the department names. It is built once when the store's registry
generation or the layer definitions change, and swapped whole: a request reads one snapshot
from start to end, so its OGC API document, tiles, search and point report always agree.

Search, point, tiles, the OGC API, the viewer config and open data all read it through
:class:`Snapshots` (``app.state.snapshots``). Adding a new kind of published thing (rasters,
live layers) means adding a field here, built in :func:`build_snapshot`.
"""

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, get_args

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from server.ogcapi.build import ApiBuild, build_api
from server.placeindex import SearchIndex
from server.rasters.published import PublishedRaster, visible_rasters
from server.refresh import Refreshed
from tsukuba_gis.catalog import Catalog, cached_catalog, catalog_signature
from tsukuba_gis.layerdef import Access, Department, I18n, LayerDef
from tsukuba_gis.settings import Settings
from tsukuba_gis.store import LayerRecord, Store
from tsukuba_gis.tiles.rules import TileSet, tile_spec

LOG = logging.getLogger(__name__)
AUDIENCES: tuple[Access, ...] = get_args(Access)
PREFIXES: dict[Access, str] = {"public": "/api", "internal": "/internal/api"}
# How far around the loaded layers a point still counts as "in Tsukuba" (degrees, ~5 km).
AREA_MARGIN_DEG = 0.05


@dataclass(frozen=True)
class PublishedLayer:
    """A layer the audience may see, with its current version.

    Attributes:
        definition: the layer definition (``layers/``).
        record: the current version in the store.
    """

    definition: LayerDef
    record: LayerRecord

    @property
    def id(self) -> str:
        """The layer id (also the collection id)."""
        return self.definition.id


@dataclass(frozen=True, eq=False)
class Snapshot:
    """Everything one audience sees, as of one generation.

    Attributes:
        audience: "public" or "internal".
        generation: the (registry generation, definitions signature) it was built for.
        base_url: the audience's OGC API URL (``.../api``).
        layers: the loaded layers the audience may see, in the one order.
        departments: every department, in order.
        area: (west, south, east, north) of the layers with a margin: "in Tsukuba".
        api: the pygeoapi API object and its kept documents (``server/ogcapi``).
        tilesets: layer id -> its tile set for this audience.
        search: the place-name index of the searchable layers.
        rasters: the loaded raster layers the audience may see, in the one order.
    """

    audience: Access
    generation: tuple
    base_url: str
    store: Store
    layers: tuple[PublishedLayer, ...]
    departments: tuple[Department, ...]
    area: tuple[float, float, float, float] | None
    api: ApiBuild
    tilesets: Mapping[str, TileSet]
    search: SearchIndex
    rasters: tuple[PublishedRaster, ...] = ()

    def raster(self, layer_id: str) -> PublishedRaster | None:
        """One raster layer by id, None when this audience may not see it (or it has no data)."""
        return next((raster for raster in self.rasters if raster.id == layer_id), None)

    def layer(self, layer_id: str) -> PublishedLayer | None:
        """One layer by id, None when this audience may not see it (or it has no data)."""
        return next((layer for layer in self.layers if layer.id == layer_id), None)

    def department_name(self, department_id: str) -> I18n:
        """The name of a department (its id when it has no definition)."""
        found = next((d for d in self.departments if d.id == department_id), None)
        return found.name if found else I18n(ja=department_id, en=department_id)

    def inside(self, lat: float, lon: float) -> bool:
        """Whether a point lies in the area the layers cover (Tsukuba and a margin)."""
        if self.area is None:
            return False
        west, south, east, north = self.area
        return west <= lon <= east and south <= lat <= north


def visible_layers(
    catalog: Catalog, records: Mapping[str, LayerRecord], audience: Access
) -> tuple[PublishedLayer, ...]:
    """The loaded layers ``audience`` may see, in the one order (department order, department, id)."""
    chosen = [
        layer
        for layer in catalog.layers.values()
        if layer.id in records and (audience == "internal" or layer.access == "public")
    ]
    return tuple(PublishedLayer(layer, records[layer.id]) for layer in catalog.in_order(chosen))


def _area(
    layers: tuple[PublishedLayer, ...], rasters: tuple[PublishedRaster, ...] = ()
) -> tuple[float, float, float, float] | None:
    boxes = [layer.record.bbox for layer in layers if layer.record.bbox]
    boxes += [raster.record.bbox for raster in rasters]
    if not boxes:
        return None
    m = AREA_MARGIN_DEG
    return (
        min(b[0] for b in boxes) - m,
        min(b[1] for b in boxes) - m,
        max(b[2] for b in boxes) + m,
        max(b[3] for b in boxes) + m,
    )


def _tilesets(layers: tuple[PublishedLayer, ...], audience: Access) -> dict[str, TileSet]:
    sets = {}
    for layer in layers:
        spec = tile_spec(layer.definition, layer.record, audience)
        if spec is not None:
            sets[layer.id] = TileSet(layer.definition, layer.record, spec)
    return sets


def build_snapshot(settings: Settings, store: Store, audience: Access, generation: Any) -> Snapshot:
    """Read the definitions and the registry once and make everything ``audience`` sees from them."""
    started = time.perf_counter()
    catalog = cached_catalog(settings.layers_dir)
    records = {r.layer_id: r for r in store.layers()}
    layers = visible_layers(catalog, records, audience)
    rasters = visible_rasters(
        catalog, {r.layer_id: r for r in store.rasters()}, audience, settings.rasters_path
    )
    departments = tuple(sorted(catalog.departments.values(), key=lambda d: (d.order, d.id)))
    base_url = f"{settings.public_url}{PREFIXES[audience]}"
    area = _area(layers, rasters)
    snapshot = Snapshot(
        audience=audience,
        generation=generation,
        base_url=base_url,
        store=store,
        layers=layers,
        departments=departments,
        area=area,
        api=build_api(
            settings, [(layer.definition, layer.record) for layer in layers], audience, base_url, rasters
        ),
        tilesets=_tilesets(layers, audience),
        search=SearchIndex.build(store, layers, audience, area),
        rasters=rasters,
    )
    LOG.info(
        "%s snapshot built for generation %s in %.0f ms (%d layers, %d rasters)",
        audience,
        generation[0],
        (time.perf_counter() - started) * 1000,
        len(layers),
        len(rasters),
    )
    return snapshot


class Snapshots:
    """The current snapshot of each audience over one store.

    The store generation and the definitions' signature are read at most once a second
    (``server/refresh.py``); a request costs no registry read of its own.

    Attributes:
        settings: the installation's settings (public URL, layers directory).
        store: the store every snapshot reads.
    """

    def __init__(self, settings: Settings, store: Store):
        self.settings, self.store = settings, store
        self._current = {
            audience: Refreshed(self._maker(audience), self._generation) for audience in AUDIENCES
        }

    def _generation(self) -> tuple:
        return (self.store.generation(), catalog_signature(self.settings.layers_dir))

    def _maker(self, audience: Access) -> Callable[[tuple], Snapshot]:
        return lambda generation: build_snapshot(self.settings, self.store, audience, generation)

    def get(self, audience: Access) -> Snapshot:
        """The current snapshot (rebuilt first when the generation moved)."""
        return self._current[audience].get()

    def ready(self, audience: Access) -> Snapshot | None:
        """The current snapshot if the generation was checked within the second (no I/O), else None."""
        return self._current[audience].fresh()


def audience_endpoint(
    answer: Callable[[Request, Snapshot], Response], snapshots: Snapshots, audience: Access
) -> Callable:
    """A Starlette endpoint giving ``answer`` over the audience's current snapshot.

    It holds ``snapshots`` itself, so it also works behind the /internal wall, where
    ``request.app`` is the walled sub-application (without the app's state).
    """

    def run(request: Request) -> Response:
        return answer(request, snapshots.get(audience))

    async def handle(request: Request) -> Response:
        return await run_in_threadpool(run, request)

    return handle
