"""Password hashing with argon2 (argon2-cffi), and the password rules."""

import os
import threading
from functools import cached_property

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from server.auth.settings import AuthSettings
from tsukuba_gis.errors import GisError

MAX_PASSWORD_LENGTH = 1024  # argon2 takes any length; this only bounds the work per request
# argon2's defaults take 64 MiB per hash: a burst of logins must queue, not exhaust memory.
_CONCURRENT = threading.BoundedSemaphore(os.cpu_count() or 2)


class WeakPassword(GisError, ValueError):
    """A new password does not meet the rules."""


class Passwords:
    """Hash and verify passwords with the configured argon2 parameters.

    Attributes:
        hasher: argon2-cffi's hasher (its defaults unless the settings override them).
        min_length: the shortest password ``check_new`` accepts.
    """

    def __init__(self, settings: AuthSettings):
        overrides = {
            "time_cost": settings.argon2_time_cost,
            "memory_cost": settings.argon2_memory_cost,
            "parallelism": settings.argon2_parallelism,
        }
        self.hasher = PasswordHasher(**{k: v for k, v in overrides.items() if v is not None})
        self.min_length = settings.password_min_length

    @cached_property
    def _dummy(self) -> str:
        # Verified against when the user name is unknown, so that a wrong name costs the same
        # time as a wrong password and the answer does not tell which one it was.
        return self.hash("not a password of anybody")

    def check_new(self, password: str, username: str) -> None:
        """Refuse passwords that are too short, too long, or the user name itself."""
        if len(password) < self.min_length:
            raise WeakPassword(f"a password needs at least {self.min_length} characters")
        if len(password) > MAX_PASSWORD_LENGTH:
            raise WeakPassword(f"a password has at most {MAX_PASSWORD_LENGTH} characters")
        if password.strip().lower() == username.lower():
            raise WeakPassword("the password must not be the user name")

    def hash(self, password: str) -> str:
        """A new argon2id hash (salted, parameters encoded in the string)."""
        with _CONCURRENT:
            return self.hasher.hash(password)

    def verify(self, stored_hash: str | None, password: str) -> bool:
        """Whether ``password`` matches; ``None`` (unknown user) burns the same time and fails."""
        if len(password) > MAX_PASSWORD_LENGTH:
            return False
        against = stored_hash or self._dummy
        try:
            with _CONCURRENT:
                matched = self.hasher.verify(against, password)
            return matched and stored_hash is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
