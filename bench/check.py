"""Correctness before timing: every peer answers the same features as ours for the same query.

For a bbox page the number of features must match; the ids must be the same set when every
match fits on the page, and otherwise be among the features ours finds for that box (servers
may pick a different page of a larger match: none promises an order without sortby).
"""

import re

import httpx

LIMIT = re.compile(r"limit=(\d+)")


def _ids(body: dict) -> list[str]:
    features = body.get("features", [body] if body.get("type") == "Feature" else [])
    return [str((f.get("properties") or {}).get("building_id") or f.get("id")) for f in features]


def _get(client: httpx.Client, url: str) -> dict:
    response = client.get(url, headers={"Accept": "application/geo+json, application/json"})
    response.raise_for_status()
    return response.json()


def compare(ours: str, ours_paths: list[str], peer: str, peer_paths: list[str], n: int = 10) -> str:
    """'' when the first ``n`` queries agree; else what differs (for the table's cell)."""
    bad = []
    with httpx.Client(timeout=120) as client:
        for mine, theirs in list(zip(ours_paths, peer_paths, strict=True))[:n]:
            try:
                a, b = _ids(_get(client, ours + mine)), _ids(_get(client, peer + theirs))
            except (httpx.HTTPError, ValueError) as err:
                bad.append(f"{theirs}: {err}")
                continue
            limit = LIMIT.search(mine)
            every = set(a)
            if limit is not None and len(a) >= int(limit.group(1)):
                every = set(_ids(_get(client, ours + LIMIT.sub("limit=10000", mine))))
            ok = len(a) == len(b) and (set(b) <= every if len(every) > len(a) else sorted(a) == sorted(b))
            if not ok:
                stray = len(set(b) - every)
                bad.append(f"{theirs}: {len(b)} features ({stray} ours does not match), ours {len(a)}")
    if bad:
        print(
            f"  {peer}: {len(bad)} of {min(n, len(ours_paths))} answers differ from ours: {bad[:3]}",
            flush=True,
        )
    return f"{len(bad)}/{min(n, len(ours_paths))} differ" if bad else ""
