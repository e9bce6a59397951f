"""A small proof of work instead of a CAPTCHA service (none is reachable on the LGWAN).

The server hands out a signed challenge ``<time>.<random>.<bits>.<signature>``; the client finds
a ``nonce`` such that SHA-256 of ``<challenge>:<nonce>`` starts with ``bits`` zero bits (the viewer
with WebCrypto, ~2^bits hashes). It costs a person a fraction of a second per report and a
flood of reports as many CPU-seconds; the server checks it with one HMAC and one hash. The
server keeps no state: the signature proves the challenge is its own, the time bounds its use,
and the per-address rate limit bounds how often one challenge can be spent.
"""

import hashlib
import hmac
import secrets
import time
from pathlib import Path

from tsukuba_gis.errors import BadRequest


def load_secret(given: str | None, path: Path) -> bytes:
    """The signing key: the setting, else one kept in ``path`` (made once, mode 0600)."""
    if given:
        return given.encode("utf-8")
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        part = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
        part.write_text(secrets.token_hex(32), encoding="ascii")
        part.chmod(0o600)
        part.replace(path) if not path.exists() else part.unlink()
    return path.read_text(encoding="ascii").strip().encode("ascii")


def _sign(key: bytes, body: str) -> str:
    return hmac.new(key, body.encode("ascii"), hashlib.sha256).hexdigest()[:32]


def issue(key: bytes, bits: int) -> dict[str, object]:
    """A new challenge for a client."""
    body = f"{int(time.time())}.{secrets.token_hex(8)}.{bits}"
    return {"challenge": f"{body}.{_sign(key, body)}", "bits": bits, "algorithm": "SHA-256"}


def zero_bits(digest: bytes) -> int:
    """Leading zero bits of a digest."""
    count = 0
    for byte in digest:
        if byte:
            return count + 8 - byte.bit_length()
        count += 8
    return count


def solve(challenge: str, bits: int) -> str:
    """A nonce for a challenge (what the viewer does; for tests, benches and scripts)."""
    nonce = 0
    while zero_bits(hashlib.sha256(f"{challenge}:{nonce}".encode()).digest()) < bits:
        nonce += 1
    return str(nonce)


def check(key: bytes, bits: int, ttl_s: float, challenge: str, nonce: str) -> None:
    """BadRequest unless ``nonce`` answers a challenge of ours, recent enough, of ``bits``."""
    if not challenge or not nonce:
        raise BadRequest(
            "challenge, nonce: required without an api_key (GET /open311/v2/challenge.json gives one)"
        )
    parts = challenge.split(".")
    if (
        len(parts) != 4
        or len(nonce) > 32
        or not hmac.compare_digest(_sign(key, ".".join(parts[:3])), parts[3])
    ):
        raise BadRequest("challenge: not one this server gave out")
    issued, given_bits = int(parts[0]), int(parts[2])
    if given_bits < bits or not 0 <= time.time() - issued <= ttl_s:
        raise BadRequest("challenge: expired; ask for a new one (GET /open311/v2/challenge.json)")
    if zero_bits(hashlib.sha256(f"{challenge}:{nonce}".encode()).digest()) < bits:
        raise BadRequest(f"nonce: does not answer the challenge (SHA-256 needs {bits} leading zero bits)")
