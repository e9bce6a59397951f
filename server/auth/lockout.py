"""Back-off after failed password checks, per (user name, client address) and per address.

Keyed so that a stranger cannot keep a staff member out (OWASP Authentication Cheat Sheet,
"account lockout"): failures for a name from one address lock only that name *from that
address*; the right password from the holder's own address still works. Each address also has
its own, higher bar over all names, so one address cannot guess at many accounts. IPv6 clients
are counted per /64 (one subscriber's network), or every address of it would start afresh.

Counters live in the account store so that every worker (and machine) enforces the same locks.
The user name is counted whether or not the account exists: a lock then says nothing about
which names are real. The holder (``/auth/me``) and admins (``tsukuba-gis users attempts``) see
the counted failures per address.
"""

import ipaddress
import time
from dataclasses import dataclass

from server.auth.accounts import AccountStore
from server.auth.settings import AuthSettings

PAIR, ADDRESS = "pair:", "ip:"


@dataclass(frozen=True)
class Attempts:
    """Failed sign-ins for one name from one address (within the counting window).

    Attributes:
        address: the client address (an IPv6 /64 network).
        failures: wrong passwords counted.
        last: time of the latest one (epoch seconds).
        locked_until: until when this address may not try this name (0: not locked).
    """

    address: str
    failures: int
    last: float
    locked_until: float


def client_key(client: str) -> str:
    """The address as counted: IPv4 as is, IPv6 as its /64 network, anything else bounded."""
    try:
        address = ipaddress.ip_address(client)
    except ValueError:
        return client[:64]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def _name(username: str) -> str:
    # Bounded: a request must not be able to make the key table store megabytes.
    return username.strip().lower()[:128]


class Throttle:
    """Exponential temporary locks after repeated failures.

    Attributes:
        store: where the counters are kept.
        settings: thresholds, window and lock lengths.
    """

    def __init__(self, store: AccountStore, settings: AuthSettings):
        self.store, self.settings = store, settings

    @staticmethod
    def _keys(username: str, client: str) -> tuple[str, str]:
        address = client_key(client)
        # "|" cannot end a name's part ambiguously: the address never contains it.
        return f"{PAIR}{_name(username)}|{address}", f"{ADDRESS}{address}"

    def retry_after(self, username: str, client: str) -> float:
        """Seconds until a password for this name from this address may be tried (0: now)."""
        now = time.time()
        until = self.store.locked_until(list(self._keys(username, client)), now)
        return max(0.0, until - now)

    def failed(self, username: str, client: str) -> None:
        """Count a failure; lock the (name, address) pair or the address at its threshold."""
        now = time.time()
        pair_key, ip_key = self._keys(username, client)
        thresholds = ((pair_key, self.settings.lock_user_failures), (ip_key, self.settings.lock_ip_failures))
        for key, threshold in thresholds:
            failures = self.store.record_failure(key, now, self.settings.lock_window_s)
            if failures >= threshold:
                self.store.set_lock(key, now + self._lock_seconds(failures - threshold))

    def succeeded(self, username: str, client: str) -> None:
        """Reset the name's counter from this address (the address keeps its own: one good
        account must not unlock guessing at the others)."""
        self.store.clear_failures(self._keys(username, client)[0])

    def attempts(self, username: str) -> list[Attempts]:
        """The counted failures for a name, per address, latest first."""
        prefix = f"{PAIR}{_name(username)}|"
        rows = self.store.list_failures(prefix, time.time() - self.settings.lock_window_s)
        found = [
            Attempts(key[len(prefix) :], failures, last, until)
            for key, failures, last, until in rows
            if "|" not in key[len(prefix) :]  # another name that starts with this one and "|"
        ]
        return sorted(found, key=lambda a: a.last, reverse=True)

    def _lock_seconds(self, excess: int) -> float:
        """base, 2*base, 4*base ... up to the maximum."""
        return min(self.settings.lock_base_s * 2 ** min(excess, 32), self.settings.lock_max_s)
