"""Sending one delivery: a mail through the SMTP server, a signed POST to a webhook.

Each raises ``SendFailed`` with a short reason the admin reads in the dead list; nothing else
escapes (a failing receiver never stops the worker).

Webhook signature: ``X-Tsukuba-GIS-Signature: sha256=<hex>``, the HMAC-SHA256 with the
webhook's secret over ``<X-Tsukuba-GIS-Timestamp>.<body>`` (the timestamp is Unix seconds of
this attempt). A receiver recomputes it over the raw body, compares in constant time, refuses a
timestamp more than 5 minutes off (the replay window) and keeps ``X-Tsukuba-GIS-Delivery`` (the
idempotency key) to drop a delivery it already has.
"""

import hashlib
import hmac
import smtplib
import ssl
import time
from email.message import EmailMessage
from email.utils import formatdate
from urllib.parse import urlsplit

import httpx

from server.notify.settings import NotifySettings

SIGNATURE, TIMESTAMP, DELIVERY = (
    "X-Tsukuba-GIS-Signature",
    "X-Tsukuba-GIS-Timestamp",
    "X-Tsukuba-GIS-Delivery",
)


class SendFailed(Exception):
    """A delivery did not reach its receiver this time (the reason is for the admin)."""


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header's value for a body sent at ``timestamp``."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def message_id(key: str, public_url: str) -> str:
    """A Message-ID made of the idempotency key: a resend after a crash has the same one."""
    host = urlsplit(public_url).hostname or "localhost"
    return f"<{key.replace(':', '.')}@{host}>"


def mail(
    settings: NotifySettings,
    to: str,
    subject: str,
    body: str,
    key: str,
    public_url: str,
    unsubscribe: str = "",
) -> None:
    """Send one plain-text mail (UTF-8)."""
    if not settings.smtp_host:
        raise SendFailed("no mail server: set TSUKUBA_GIS_SMTP_HOST")
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = settings.smtp_from, to, subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = message_id(key, public_url)
    if unsubscribe:
        # RFC 8058 one-click: the mail client POSTs to the link, which unsubscribes.
        message["List-Unsubscribe"] = f"<{unsubscribe}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(body)
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout_s) as smtp:
            if settings.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
            if settings.smtp_user:
                password = settings.smtp_password.get_secret_value() if settings.smtp_password else ""
                smtp.login(settings.smtp_user, password)
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as err:
        raise SendFailed(
            f"SMTP {settings.smtp_host}:{settings.smtp_port}: {err or type(err).__name__}"
        ) from None


def webhook(settings: NotifySettings, url: str, secret: str, key: str, body: str) -> None:
    """POST a signed JSON body; any 2xx is delivered, anything else a failure."""
    data = body.encode()
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        DELIVERY: key,
        TIMESTAMP: timestamp,
        SIGNATURE: sign(secret, timestamp, data),
        "User-Agent": "tsukuba-gis-webhooks",
    }
    try:
        answer = httpx.post(url, content=data, headers=headers, timeout=settings.webhook_timeout_s)
    except httpx.TimeoutException:
        raise SendFailed(f"no answer within {settings.webhook_timeout_s:g} s") from None
    except httpx.HTTPError as err:
        raise SendFailed(f"cannot reach the receiver: {err or type(err).__name__}") from None
    if not 200 <= answer.status_code < 300:
        raise SendFailed(f"HTTP {answer.status_code}")
