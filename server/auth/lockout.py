"""Back-off after failed password checks, per user name and per client address.

Counters live in the account store so that every worker (and machine) enforces the same locks.
The user name is counted whether or not the account exists: a lock then says nothing about
which names are real.
"""

import time

from server.auth.accounts import AccountStore
from server.auth.settings import AuthSettings


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
        # Bounded: a request must not be able to make the key table store megabytes.
        return f"user:{username.strip().lower()[:128]}", f"ip:{client[:64]}"

    def retry_after(self, username: str, client: str) -> float:
        """Seconds until a password for this name from this address may be tried (0: now)."""
        now = time.time()
        until = self.store.locked_until(list(self._keys(username, client)), now)
        return max(0.0, until - now)

    def failed(self, username: str, client: str) -> None:
        """Count a failure; lock the name or the address once its threshold is reached."""
        now = time.time()
        user_key, ip_key = self._keys(username, client)
        thresholds = ((user_key, self.settings.lock_user_failures), (ip_key, self.settings.lock_ip_failures))
        for key, threshold in thresholds:
            failures = self.store.record_failure(key, now, self.settings.lock_window_s)
            if failures >= threshold:
                self.store.set_lock(key, now + self._lock_seconds(failures - threshold))

    def succeeded(self, username: str) -> None:
        """Reset the name's counter (the address keeps its own: one good account must not
        unlock guessing at the others)."""
        self.store.clear_failures(self._keys(username, "")[0])

    def _lock_seconds(self, excess: int) -> float:
        """base, 2*base, 4*base ... up to the maximum."""
        return min(self.settings.lock_base_s * 2 ** min(excess, 32), self.settings.lock_max_s)
