"""``/subscriptions``: e-mail subscriptions to the changes of an area, double opt-in.

- ``POST /subscriptions`` (JSON or a form): ``email``, ``lang`` and an area as the feeds take
  it (``lat``/``lon``/``radius``, ``town``, ``bbox``; optionally ``layer``). Keeps the address,
  the language, the area and the hash of a random confirmation token, and mails the link.
- ``/subscriptions/confirm?token=``: GET shows a page with a button, POST confirms (mail
  scanners open links; only a person presses the button).
- ``/subscriptions/unsubscribe?token=``: GET shows a page, POST deletes the row (also the
  RFC 8058 one-click POST of a mail client). The token is an HMAC of the subscription with the
  store's secret, so every mail carries one without any being stored.

Rate limits per e-mail address and per client address answer 429 with Retry-After.
"""

import hashlib
import hmac
import html
import json
import secrets
import time
from collections.abc import Callable, Mapping
from urllib.parse import parse_qsl

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from server.auth.authenticate import client_address
from server.email_address import checked_email
from server.notify import send
from server.notify.compose import text, unsubscribe_token
from server.notify.settings import NotifySettings
from server.notify.targets import reach_of
from server.ratelimit import RateLimit
from server.snapshot import Snapshots
from tsukuba_gis.errors import BadRequest, MailUnavailable, NotFound, PayloadTooLarge, TooManyRequests
from tsukuba_gis.store.notify import Subscription

MAX_BODY = 4096


def token_hash(token: str) -> str:
    """What is stored of a confirmation token."""
    return hashlib.sha256(token.encode()).hexdigest()


async def _params(request: Request) -> dict[str, str]:
    body = await request.body()
    if len(body) > MAX_BODY:
        raise PayloadTooLarge(f"the body: at most {MAX_BODY} bytes")
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        if kind == "application/json":
            given = json.loads(body or b"{}")
            if not isinstance(given, dict):
                raise ValueError
            return {str(k): str(v) for k, v in given.items() if v is not None}
        if kind == "application/x-www-form-urlencoded":
            return dict(parse_qsl(body.decode(), keep_blank_values=True))
    except (ValueError, UnicodeDecodeError):
        raise BadRequest(f"the body: not valid {kind}") from None
    raise BadRequest("Content-Type: application/json or application/x-www-form-urlencoded")


class Subscriptions:
    """The subscription routes over one store (and the public snapshot for areas and layers)."""

    def __init__(self, snapshots: Snapshots, settings: NotifySettings):
        self.snapshots, self.settings, self.store = snapshots, settings, snapshots.store
        self.per_address = RateLimit(settings.subscribe_per_address, settings.subscribe_window_s)
        self.per_client = RateLimit(settings.subscribe_per_client, settings.subscribe_window_s)

    @property
    def public_url(self) -> str:
        """The server's public URL (links in mails)."""
        return self.snapshots.settings.public_url or ""

    def city(self, lang: str) -> str:
        """The city's name in ``lang``."""
        s = self.snapshots.settings
        return s.city_name_en if lang == "en" else s.city_name_ja

    def _limit(self, email: str, client: str) -> None:
        for limit, key, what in (
            (self.per_client, client, "this client"),
            (self.per_address, email.lower(), "this address"),
        ):
            wait = limit.hit(key)
            if wait:
                raise TooManyRequests(f"too many subscriptions from {what}; try again later", wait)

    def subscribe(self, params: Mapping[str, str], client: str) -> dict:
        """Keep an unconfirmed subscription and mail its confirmation link."""
        email = checked_email(params.get("email", ""))
        reach, lang = reach_of(params, self.snapshots.get("public"), need_area=True)
        if not self.settings.smtp_host:
            raise MailUnavailable("no mail server is configured (TSUKUBA_GIS_SMTP_HOST)")
        self._limit(email, client)
        token = secrets.token_urlsafe(32)
        subscription_id = self.store.add_subscription(email, lang, reach, token_hash(token), time.time())
        url = f"{self.public_url}/subscriptions/confirm?token={token}"
        city = self.city(lang)
        body = text("confirm_body", lang, city=city, url=url, days=self.settings.subscribe_confirm_days)
        try:
            send.mail(
                self.settings,
                email,
                text("subject_confirm", lang, city=city),
                body,
                f"confirm:{subscription_id}",
                self.public_url,
            )
        except send.SendFailed as err:
            self.store.delete_subscription(subscription_id)  # nothing half-done: ask again later
            raise MailUnavailable(f"the confirmation mail could not be sent: {err}") from None
        return {"status": "confirmation-sent", "description": text("sent", lang)}

    def confirmed(self, token: str) -> Subscription:
        """The subscription of a confirmation token, or NotFound."""
        found = self.store.subscription_by_confirm(token_hash(token)) if token else None
        if found is None:
            raise NotFound("token: no subscription waits for this confirmation (expired or mistyped link)")
        return found

    def unsubscribing(self, token: str) -> Subscription:
        """The subscription of an unsubscribe token, or NotFound (forged, or already gone)."""
        number, _, _ = token.partition(".")
        found = (
            self.store.subscription(int(number))
            if number.isascii() and number.isdigit() and len(number) < 19
            else None
        )
        expected = unsubscribe_token(self.store.notify_secret(), found) if found else ""
        if found is None or not hmac.compare_digest(expected, token):
            raise NotFound("token: no subscription has this unsubscribe link (already unsubscribed?)")
        return found


def _page(lang: str, title_key: str, button_key: str | None, action: str = "") -> HTMLResponse:
    title = html.escape(text(title_key, lang))
    form = ""
    if button_key:
        form = (
            f'<form method="post" action="{html.escape(action)}">'
            f'<button type="submit">{html.escape(text(button_key, lang))}</button></form>'
        )
    page = (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title></head>'
        f"<body><main><h1>{title}</h1>{form}</main></body></html>"
    )
    return HTMLResponse(page, headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})


def subscription_routes(snapshots: Snapshots, settings: NotifySettings) -> list[Route]:
    """The public routes of e-mail subscriptions."""
    subs = Subscriptions(snapshots, settings)

    async def subscribe(request: Request) -> Response:
        params = await _params(request)
        answer = await run_in_threadpool(subs.subscribe, params, client_address(request))
        return JSONResponse(answer, status_code=202)

    def two_step(find: Callable[[str], Subscription], act: Callable[[int], object], step: str) -> Callable:
        """GET: the page with the button (a mail scanner's prefetch changes nothing); POST: do it."""

        async def endpoint(request: Request) -> Response:
            token = request.query_params.get("token", "")
            found = await run_in_threadpool(find, token)
            if request.method == "GET":
                return _page(found.lang, f"page_{step}", f"button_{step}", f"?token={token}")
            await run_in_threadpool(act, found.id)
            return _page(found.lang, f"done_{step}", None)

        return endpoint

    confirm = two_step(subs.confirmed, subs.store.confirm_subscription, "confirm")
    unsubscribe = two_step(subs.unsubscribing, subs.store.delete_subscription, "unsubscribe")

    return [
        Route("/subscriptions", subscribe, methods=["POST"]),
        Route("/subscriptions/confirm", confirm, methods=["GET", "POST"]),
        Route("/subscriptions/unsubscribe", unsubscribe, methods=["GET", "POST"]),
    ]
