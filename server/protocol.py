"""uvicorn's httptools protocol with a deadline for each request to arrive (slow-loris).

uvicorn closes a connection idle *between* requests (``timeout_keep_alive``), but a connection
that sends nothing, or sends its headers a byte at a time, stays open for ever: a few hundred
of them use up a worker's file descriptors. Here a new connection, and every request from its
first byte, must arrive whole within ``header_timeout_s`` (TSUKUBA_GIS_HEADER_TIMEOUT_S), and
its head within MAX_HEAD_BYTES; otherwise the connection is closed. Requests here are small
(queries; the largest body is a sign-in form), so one deadline covers headers and body.
"""

import asyncio
import functools
from asyncio import TimerHandle

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MAX_HEAD_BYTES = 64 * 1024  # request line and headers; nginx allows 4 x 8 KiB by default


@functools.cache
def deadline_s() -> float:
    """The deadline of this process (workers read the same environment as the parent)."""
    from server.security import SecuritySettings

    return SecuritySettings().header_timeout_s


class DeadlineHttpToolsProtocol(HttpToolsProtocol):
    """HttpToolsProtocol that closes connections whose request does not arrive in time."""

    _deadline: TimerHandle | None = None
    _head_bytes = 0
    _in_head = True

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Start the clock: the first request must come within the deadline."""
        super().connection_made(transport)
        self._arm()

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(deadline_s(), self._too_slow)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        """Count the bytes of a request head; too many closes the connection."""
        if self._in_head:
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEAD_BYTES:
                self._disarm()
                self.transport.close()
                return
        super().data_received(data)

    def on_message_begin(self) -> None:
        """A request starts: it must arrive whole within the deadline."""
        super().on_message_begin()
        self._in_head, self._head_bytes = True, 0
        self._arm()

    def on_headers_complete(self) -> None:
        """The head is in: stop counting its bytes (the body has the app's own limits)."""
        self._in_head = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        """The request is in: the app has it, the keep-alive timeout takes over after it."""
        self._disarm()
        super().on_message_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        """No timer outlives its connection."""
        self._disarm()
        super().connection_lost(exc)
