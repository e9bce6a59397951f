"""The pygeoapi API object of one audience, made from the layers of its snapshot.

A config is generated from the layer definitions and records (``config.py``), kept on disk for
inspection, documented (``openapi.py``) and given to ``pygeoapi.api.API``. The result lives in
the audience's snapshot (``server/snapshot.py``) and goes with it.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from pygeoapi.api import API

from server.ogcapi.config import build_config, write_config
from server.ogcapi.openapi import build_openapi
from server.ogcapi.transaction_docs import add_transaction_paths
from server.rasters.published import PublishedRaster
from tsukuba_gis.layerdef import Access, LayerDef
from tsukuba_gis.settings import Settings
from tsukuba_gis.store import LayerRecord

LOG = logging.getLogger(__name__)
MAX_DOCUMENTS = 256


@dataclass
class ApiBuild:
    """One audience's pygeoapi API as of one generation.

    Attributes:
        api: the pygeoapi API object made from the generated config.
        records: layer id -> the layer record the config was made from (HTTP validators,
            providers).
        documents: answers of the document routes made by this ``api`` (they depend on the
            config only, so they are made once per build, language and format, and dropped
            with the build).
        live: ids of the layers staff edit live (their items are revalidated on every use).
    """

    api: API
    records: dict[str, LayerRecord]
    documents: dict[tuple, tuple] = field(default_factory=dict)
    live: frozenset[str] = frozenset()

    def keep(self, key: tuple, answer: tuple) -> None:
        """Keep a document answer (/collections: 3,980 -> 8,907 req/s on 2 workers)."""
        if len(self.documents) >= MAX_DOCUMENTS:
            self.documents.clear()  # bounded: odd query strings cannot fill the memory
        self.documents[key] = answer


def build_api(
    settings: Settings,
    layers: Sequence[tuple[LayerDef, LayerRecord]],
    audience: Access,
    base_url: str,
    rasters: Sequence[PublishedRaster] = (),
) -> ApiBuild:
    """The API object over ``layers`` and ``rasters`` (already chosen for ``audience`` and in order)."""
    config = build_config(settings, layers, audience, base_url, rasters)
    write_config(config, settings.data_dir / "generated" / f"pygeoapi-{audience}.yml")
    document = build_openapi(config, f"{base_url}/schemas")
    if audience == "internal":  # writes exist, and are documented, on the staff side only
        add_transaction_paths(document, [layer for layer, _ in layers if layer.editable is not None])
    LOG.info("%s OGC API built (%d collections)", audience, len(config["resources"]))
    live = frozenset(layer.id for layer, _ in layers if layer.editable is not None)
    return ApiBuild(API(config, document), {record.layer_id: record for _, record in layers}, live=live)
