"""OGC API - Features - Part 4 on the staff API: create, replace, update, delete (issue 13).

Mounted with ``ogcapi_app(..., extensions=)`` on the staff side only (behind the /internal
wall, which authenticates and checks CSRF and Origin); the public API has no such route and
answers 405. pygeoapi 0.24's own transactions are not used: it has no PATCH, no If-Match and no
412, and documents POST as a CQL2 search.

- ``POST /collections/{id}/items``: a GeoJSON Feature; 201, ``Location``, ``ETag``, the feature.
- ``PUT /collections/{id}/items/{fid}``: the editable fields and geometry replaced; 200.
- ``PATCH /collections/{id}/items/{fid}``: a JSON merge patch (RFC 7396); 200.
- ``DELETE /collections/{id}/items/{fid}``: 204.
- ``OPTIONS`` on both: ``Allow`` says which of them the caller may use (QGIS asks).
- ``GET``/``HEAD`` of one feature of an editable layer: pygeoapi's answer with the feature's
  strong ETag (``"<version>.<revision>"``, read before the feature: never newer than it).

Checks, in this order, before the body is read: the collection (404), the layer takes the edit
(405), the caller may edit it (403: department, read-only token), If-Match (428); then the body
(415, 413, 400 naming the member) and the edit itself (412 stale, 404, 409, 503 busy). A refusal
writes nothing; an accepted edit is one store transaction with its recorded change.
"""

from typing import NamedTuple

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from server import caching
from server.auth.authenticate import Principal
from server.auth.permissions import editor_of, may_edit
from server.ogcapi import routes
from server.ogcapi.adapter import Publication, handler
from server.ogcapi.transaction_io import (
    FEATURE_TYPES,
    PATCH_TYPES,
    expectation,
    feature_response,
    read_json,
)
from server.snapshot import PublishedLayer, Snapshot
from tsukuba_gis.edits import (
    Draft,
    check_geometry,
    check_members,
    check_new_properties,
    check_properties,
    new_id,
    request_for,
    writable,
)
from tsukuba_gis.errors import BadRequest, FeatureNotFound, NotFound
from tsukuba_gis.layerdef import LayerDef
from tsukuba_gis.store.base import Editor, EditResult, feature_etag
from tsukuba_gis.store.editing import same_geometry

ITEMS = "/collections/{collection_id}/items"
ITEM = ITEMS + "/{item_id}"
NOT_FOUND = "Collection not found"  # pygeoapi's words: an unknown id answers like any other


class Transactions:
    """The write routes over the staff publication's snapshots and store.

    Attributes:
        publication: the staff publication (its snapshots, their store).
    """

    def __init__(self, publication: Publication):
        self.publication = publication
        self.snapshots = publication.snapshots
        self.store = publication.snapshots.store
        self._read_item = handler(
            # routes.collection_item: the same answer as every other item (application/geo+json)
            publication,
            routes.collection_item,
            ("collection_id", "item_id"),
            True,
            False,
        )

    # -- helpers -------------------------------------------------------------------------------

    async def _target(self, request: Request) -> tuple[Snapshot, PublishedLayer]:
        snapshot = self.snapshots.ready(self.publication.name) or await run_in_threadpool(
            self.snapshots.get, self.publication.name
        )
        published = snapshot.layer(request.path_params["collection_id"])
        if published is None:
            raise NotFound(NOT_FOUND)
        return snapshot, published

    async def _change(self, request: Request, action: str) -> "_Change":
        """The checks of a change to one feature before its body is read, in their order: the
        collection (404), the layer takes the change (405), the caller may edit it (403),
        If-Match (428)."""
        snapshot, published = await self._target(request)
        layer, fid = published.definition, request.path_params["item_id"]
        writable(layer, action)
        principal = _principal(request)
        editor = editor_of(principal, layer)
        return _Change(snapshot, published, layer, fid, editor, expectation(request, principal))

    async def _edit(self, published: PublishedLayer, draft_request) -> EditResult:
        return await run_in_threadpool(self.store.edit, published.record, draft_request)

    def _answer(self, result: EditResult, status: int = 200, base_url: str = "") -> Response:
        """The feature as the edit left it (from its change; the geometry from the store when
        the edit did not move it), with its new ETag."""
        change, record = result.change, result.record
        if change is None:  # nothing differed: the feature as it is
            page = self.store.get(record, result.feature_id)
            response = feature_response(
                page.ids[0], page.wkb[0], page.properties[0], record.version, result.revision
            )
        else:
            wkb = change.geometry_after
            if wkb is None:
                wkb = self.store.get(record, result.feature_id, select=()).wkb[0]
            fid = change.after.get(record.id_column) if record.id_column else result.feature_id
            response = feature_response(fid, wkb, change.after, record.version, result.revision, status)
        if status == 201:
            response.headers["Location"] = (
                f"{base_url}/collections/{record.layer_id}/items/{result.feature_id}"
            )
        return response

    # -- routes --------------------------------------------------------------------------------

    async def create(self, request: Request) -> Response:
        """POST a GeoJSON Feature: a new feature (201)."""
        snapshot, published = await self._target(request)
        layer = published.definition
        writable(layer, "add")
        editor = editor_of(_principal(request), layer)
        document = check_members(await read_json(request, FEATURE_TYPES), None)
        properties = check_new_properties(layer, document.get("properties") or {})
        geometry = check_geometry(layer, document.get("geometry"), snapshot.boundary)
        fid = new_id(layer, properties, document)
        edit = request_for(layer, "add", fid, editor, Draft(properties, geometry), None)
        result = await self._edit(published, edit)
        return await run_in_threadpool(self._answer, result, 201, snapshot.base_url)

    async def patch(self, request: Request) -> Response:
        """PATCH a JSON merge patch of a feature: only the members given change."""
        snapshot, published, layer, fid, editor, expect = await self._change(request, "modify")
        document = check_members(await read_json(request, PATCH_TYPES), fid)
        if "properties" in document and document["properties"] is None:
            raise BadRequest("properties: cannot be removed; set single fields to null to empty them")
        properties = check_properties(layer, document.get("properties") or {})
        geometry = _geometry(layer, document, snapshot)
        edit = request_for(layer, "modify", fid, editor, Draft(properties, geometry), expect)
        return await run_in_threadpool(self._answer, await self._edit(published, edit))

    async def replace(self, request: Request) -> Response:
        """PUT a GeoJSON Feature: the editable fields (left out: emptied) and the geometry."""
        snapshot, published, layer, fid, editor, expect = await self._change(request, "modify")
        document = check_members(await read_json(request, FEATURE_TYPES), fid)
        page = await run_in_threadpool(self.store.get, published.record, fid)
        if not page.ids:
            raise FeatureNotFound("no such feature in this collection")
        properties = check_properties(layer, document.get("properties") or {}, current=page.properties[0])
        properties = {name: properties.get(name) for name in layer.editable.fields}
        geometry = _geometry(layer, document, snapshot, current=page.wkb[0])
        edit = request_for(layer, "modify", fid, editor, Draft(properties, geometry), expect)
        return await run_in_threadpool(self._answer, await self._edit(published, edit))

    async def delete(self, request: Request) -> Response:
        """DELETE a feature (204); recorded like every edit, revertible."""
        _, published, layer, fid, editor, expect = await self._change(request, "delete")
        await self._edit(published, request_for(layer, "delete", fid, editor, Draft({}, None), expect))
        return Response(status_code=204)

    async def options(self, request: Request) -> Response:
        """``Allow``: the methods the caller may use on the collection or the feature."""
        _, published = await self._target(request)
        layer, one = published.definition, "item_id" in request.path_params
        allowed = ["GET", "HEAD", "OPTIONS"]
        if layer.editable is not None and may_edit(_principal(request), layer):
            if one:
                allowed += ["PUT", "PATCH"] + (["DELETE"] if layer.editable.delete else [])
            elif layer.editable.create:
                allowed.append("POST")
        headers = {"Allow": ", ".join(allowed)}
        if one and "PATCH" in allowed:
            headers["Accept-Patch"] = "application/merge-patch+json"
        return Response(status_code=204, headers=headers)

    async def read(self, request: Request) -> Response:
        """One feature; of an editable layer with its strong ETag (304 when the client has it)."""
        try:
            _, published = await self._target(request)
        except NotFound:
            return await self._read_item(request)  # pygeoapi's 404, as for every collection
        if published.definition.editable is None:
            return await self._read_item(request)
        record = published.record
        revision = await run_in_threadpool(self.store.revision, record, request.path_params["item_id"])
        if revision is None:
            return await self._read_item(request)  # pygeoapi's 404
        etag = feature_etag(record.version, revision)
        if caching.not_modified(request.headers, caching.Validators(etag)):
            return Response(status_code=304, headers={"ETag": etag})
        response = await self._read_item(request)
        if response.status_code == 200:
            response.headers["ETag"] = etag
        return response


class _Change(NamedTuple):
    """What a change to one feature is checked against."""

    snapshot: Snapshot
    published: PublishedLayer
    layer: LayerDef
    fid: str
    editor: Editor
    expect: tuple[int, int] | None  # (version, revision) of the If-Match; None: unconditional


def _principal(request: Request) -> Principal:
    return request.scope["user"]  # set by the /internal wall (server/auth/middleware.py)


def _geometry(layer, document: dict, snapshot: Snapshot, current: bytes | None = None) -> bytes | None:
    """The checked geometry of a body (None: none given, or the same as ``current``)."""
    if "geometry" not in document:
        return None
    if document["geometry"] is None:
        raise BadRequest("geometry: cannot be removed")
    if current is not None and not layer.editable.geometry:
        # A PUT repeating the geometry as it is (what a client sends) changes nothing.
        wkb = check_geometry(layer, document["geometry"], None)
        return None if same_geometry(wkb, current) else wkb
    return check_geometry(layer, document["geometry"], snapshot.boundary)


def transaction_routes(publication: Publication) -> list[Route]:
    """The write routes of the staff API (put before pygeoapi's routes: they take GET of one
    feature too, to add its ETag)."""
    tx = Transactions(publication)
    return [
        Route(ITEMS, tx.create, methods=["POST"]),
        Route(ITEMS, tx.options, methods=["OPTIONS"]),
        Route(ITEM, tx.read, methods=["GET", "HEAD"]),
        Route(ITEM, tx.replace, methods=["PUT"]),
        Route(ITEM, tx.patch, methods=["PATCH"]),
        Route(ITEM, tx.delete, methods=["DELETE"]),
        Route(ITEM, tx.options, methods=["OPTIONS"]),
    ]
