"""Webhooks and deliveries for admins: ``/internal/webhooks`` and ``/internal/deliveries``
(behind the staff wall, admins only), and the functions ``tsukuba-gis webhooks`` calls.

| route | what |
|---|---|
| ``GET /internal/webhooks`` | the webhooks (without their secrets) |
| ``POST /internal/webhooks`` | JSON ``url``, ``audience``, ``secret``, area, ``layer``: 201, id and secret |
| ``DELETE /internal/webhooks/{id}`` | remove one (and its unsent deliveries) |
| ``GET /internal/deliveries?status=dead`` | deliveries (``pending``, ``sent``, ``dead``), newest first |
| ``POST /internal/deliveries/redeliver?key=`` | a dead one pending again (no ``key``: every one) |
"""

import json
import secrets
import time
from collections.abc import Mapping

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from server.notify.targets import checked_url, reach_of
from server.snapshot import Snapshots
from tsukuba_gis.errors import BadRequest, Forbidden, NotFound
from tsukuba_gis.store.base import Store
from tsukuba_gis.store.notify import Delivery, Webhook

AUDIENCES = ("public", "internal")
STATUSES = ("pending", "sent", "dead")


def add_webhook(snapshots: Snapshots, params: Mapping[str, str]) -> tuple[int, str]:
    """Register a webhook from checked parameters; its id and secret."""
    url = checked_url(params.get("url", ""), snapshots.settings.public_url or "")
    audience = params.get("audience") or "public"
    if audience not in AUDIENCES:
        raise BadRequest("audience: public (what the open feeds show) or internal (everything)")
    secret = params.get("secret") or secrets.token_urlsafe(32)
    if len(secret) < 16 or len(secret) > 200:
        raise BadRequest("secret: 16 to 200 characters")
    reach, _ = reach_of(params, snapshots.get("internal" if audience == "internal" else "public"), False)
    return snapshots.store.add_webhook(url, secret, audience, reach, time.time()), secret


def webhook_json(hook: Webhook) -> dict:
    """A webhook as the admin sees it (never its secret)."""
    return {
        "id": hook.id,
        "url": hook.url,
        "audience": hook.audience,
        "area": hook.reach.area or None,
        "layers": list(hook.reach.layers) or None,
        "created": hook.created_at,
    }


def delivery_json(delivery: Delivery) -> dict:
    """A delivery as the admin sees it (not its content: a mail's links are the subscriber's)."""
    return {
        "key": delivery.key,
        "kind": delivery.kind,
        "target": delivery.target,
        "records": [delivery.first_record, delivery.last_record],
        "status": delivery.status,
        "attempts": delivery.attempts,
        "last_error": delivery.last_error,
        "created": delivery.created_at,
        "sent": delivery.sent_at,
    }


def _admin(request: Request) -> None:
    if getattr(request.scope.get("user"), "role", None) != "admin":
        raise Forbidden("webhooks and deliveries are for admins")


async def _json(request: Request) -> dict[str, str]:
    try:
        given = json.loads(await request.body() or b"{}")
    except ValueError:
        raise BadRequest("the body: not JSON") from None
    if not isinstance(given, dict):
        raise BadRequest("the body: a JSON object")
    return {str(k): str(v) for k, v in given.items() if v is not None}


def admin_routes(snapshots: Snapshots) -> list[Route]:
    """The admin routes (mounted in the staff app, under /internal)."""
    store: Store = snapshots.store

    async def webhooks(request: Request) -> Response:
        _admin(request)
        if request.method == "POST":
            params = await _json(request)
            hook_id, secret = await run_in_threadpool(add_webhook, snapshots, params)
            return JSONResponse({"id": hook_id, "secret": secret}, status_code=201)
        hooks = await run_in_threadpool(store.webhooks)
        return JSONResponse({"webhooks": [webhook_json(h) for h in hooks]})

    async def webhook(request: Request) -> Response:
        _admin(request)
        if not await run_in_threadpool(store.remove_webhook, request.path_params["id"]):
            raise NotFound("no such webhook")
        return Response(status_code=204)

    async def deliveries(request: Request) -> Response:
        _admin(request)
        status = request.query_params.get("status") or None
        if status is not None and status not in STATUSES:
            raise BadRequest(f"status: one of {', '.join(STATUSES)}")
        found = await run_in_threadpool(store.deliveries, status)
        return JSONResponse({"deliveries": [delivery_json(d) for d in found]})

    async def redeliver(request: Request) -> Response:
        _admin(request)
        key = request.query_params.get("key") or None
        count = await run_in_threadpool(store.redeliver, key, time.time())
        if key and not count:
            raise NotFound("key: no dead delivery has this key")
        return JSONResponse({"redelivered": count})

    return [
        Route("/webhooks", webhooks, methods=["GET", "POST"]),
        Route("/webhooks/{id:int}", webhook, methods=["DELETE"]),
        Route("/deliveries", deliveries, methods=["GET"]),
        Route("/deliveries/redeliver", redeliver, methods=["POST"]),
    ]
