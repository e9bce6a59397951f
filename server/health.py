"""Readiness: is the store readable, and what is loaded."""

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from tsukuba_gis.errors import StoreError

router = APIRouter()


@router.get("/health")
def health(request: Request) -> JSONResponse:
    """200 with the store state when the store answers; 503 when it does not."""
    store = request.app.state.store
    try:
        generation = store.generation()
        store.layers()
    except (StoreError, OSError) as err:
        return JSONResponse(
            {"status": "unavailable", "store": "down", "detail": type(err).__name__}, status_code=503
        )
    # Counts of layers are not shown: the internal ones are nobody's business here.
    return JSONResponse({"status": "ok", "store": "ok", "generation": generation})
