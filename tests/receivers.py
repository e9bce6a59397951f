"""Real receivers of deliveries on loopback (issue 16): an SMTP server (aiosmtpd) that keeps
every mail, and an HTTP server (stdlib) that checks each webhook's signature and answers as a
test tells it: 204, 500 forever, or not at all (hangs past the sender's timeout).

Used by tests/server/test_notify*.py and bench/notify.py.
"""

import email
import email.policy
import hashlib
import hmac
import json
import re
import threading
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller
from liveserver import free_port

LINK = re.compile(r"https?://\S+")


class MailBox:
    """An SMTP server on 127.0.0.1 keeping every message it accepts."""

    def __init__(self):
        self.messages: list[EmailMessage] = []
        self.arrived: list[float] = []
        self._lock = threading.Lock()
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        """Keep the message (aiosmtpd calls this for each mail)."""
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self._lock:
            self.messages.append(message)
            self.arrived.append(time.monotonic())
        return "250 OK"

    def start(self) -> "MailBox":
        """Start listening on ``self.port``."""
        self.controller.start()
        return self

    def stop(self) -> None:
        """Stop the server."""
        self.controller.stop()

    def to(self, address: str) -> list[EmailMessage]:
        """The messages to one address, in arrival order."""
        with self._lock:
            return [m for m in self.messages if m["To"] == address]

    def wait(self, address: str, count: int, timeout: float = 10.0) -> list[EmailMessage]:
        """Poll until ``count`` messages to ``address`` arrived (bounded)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.to(address)
            if len(found) >= count:
                return found
            time.sleep(0.02)
        raise AssertionError(f"{len(self.to(address))} of {count} mails to {address} within {timeout} s")


def body(message: EmailMessage) -> str:
    """The text of a plain mail."""
    return message.get_content()


def links(message: EmailMessage) -> list[str]:
    """Every URL in a mail's text."""
    return LINK.findall(body(message))


@dataclass
class Hit:
    """One webhook request as received."""

    path: str
    key: str
    signed: bool
    body: dict
    at: float


@dataclass
class Hooks:
    """A webhook receiver: ``modes[path]`` is ``ok``, ``fail`` (500) or ``hang``; ``secrets[path]``
    the secret it checks signatures with."""

    modes: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)
    hits: list[Hit] = field(default_factory=list)
    delay_s: float = 0.0
    hang_s: float = 2.0

    def start(self) -> "Hooks":
        """Serve on a free loopback port (``self.url``) from a daemon thread."""
        hooks = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's hook name)
                data = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                mode = hooks.modes.get(self.path, "ok")
                if mode == "hang":
                    time.sleep(hooks.hang_s)
                    return
                time.sleep(hooks.delay_s)
                stamp = self.headers.get("X-Tsukuba-GIS-Timestamp", "")
                secret = hooks.secrets.get(self.path, "").encode()
                expected = (
                    "sha256=" + hmac.new(secret, stamp.encode() + b"." + data, hashlib.sha256).hexdigest()
                )
                signed = hmac.compare_digest(expected, self.headers.get("X-Tsukuba-GIS-Signature", ""))
                fresh = abs(time.time() - int(stamp or 0)) <= 300  # the replay window
                key = self.headers.get("X-Tsukuba-GIS-Delivery", "")
                hooks.hits.append(Hit(self.path, key, signed and fresh, json.loads(data), time.monotonic()))
                self.send_response(500 if mode == "fail" else 204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()

    def of(self, path: str) -> list[Hit]:
        """The requests to one path."""
        return [h for h in self.hits if h.path == path]

    def wait(self, path: str, count: int, timeout: float = 10.0) -> list[Hit]:
        """Poll until ``count`` requests to ``path`` arrived (bounded)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.of(path)) >= count:
                return self.of(path)
            time.sleep(0.02)
        raise AssertionError(f"{len(self.of(path))} of {count} requests to {path} within {timeout} s")
