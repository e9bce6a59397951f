"""What a subscriber or a webhook may follow, checked: a webhook URL, an
area and layers given as the feeds take them (``server/feeds/params.py``)."""

import ipaddress
from collections.abc import Mapping
from urllib.parse import urlsplit

from server.feeds.params import feed_query
from server.snapshot import Snapshot
from tsukuba_gis.errors import BadRequest
from tsukuba_gis.store.notify import Reach

MAX_URL = 2000
AREA_KEYS = ("lat", "lon", "radius", "town", "bbox")
LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


def _local(host: str) -> bool:
    if host.lower() in LOCAL_NAMES:
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def _port(parts) -> int:
    return parts.port or (443 if parts.scheme == "https" else 80)


def checked_url(raw: str, public_url: str) -> str:
    """A webhook URL: http or https with a host, never the server itself (its public host and
    port, or a loopback address at that port, e.g. the proxy in front of it): a delivery must
    not call the server back."""
    url = raw.strip()
    try:
        parts = urlsplit(url)
        port = _port(parts)
    except ValueError:
        raise BadRequest("url: not a URL") from None
    if len(url) > MAX_URL or parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadRequest("url: an http:// or https:// URL with a host, at most 2000 characters")
    if parts.username or parts.password:
        raise BadRequest("url: no user or password in the URL (the secret signs each delivery)")
    own = urlsplit(public_url)
    own_port = _port(own) if own.hostname else None
    same_host = parts.hostname.lower() == (own.hostname or "").lower()
    if port == own_port and (same_host or _local(parts.hostname)):
        raise BadRequest(f"url: points at this server itself ({own.hostname}:{own_port})")
    return url


def reach_of(params: Mapping[str, str], snapshot: Snapshot, need_area: bool) -> tuple[Reach, str]:
    """What a target follows (validated like a feed request: area inside the city, radius
    within the limit, public layer ids) and the language asked."""
    if need_area and not any(params.get(k) for k in ("lat", "lon", "town", "bbox")):
        raise BadRequest("give an area: lat/lon (with radius), town or bbox")
    query = feed_query(params, snapshot)
    area = query.area
    given = "&".join(f"{k}={params[k]}" for k in AREA_KEYS if params.get(k))
    layers = query.layers if params.get("layer") else ()
    if area is None:
        return Reach(layers), query.lang
    return Reach(layers, given, area.box, area.center, area.radius_m), query.lang
