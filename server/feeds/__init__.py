"""Change feeds (issue 16): what changed in the city's layers, as Atom and JSON Feed 1.1.

- ``params.py``: the request's layers, area (lat/lon/radius, town, bbox), page and language.
- ``entries.py``: a change record as an entry in plain Japanese or English, for one audience.
- ``render.py``: a page of entries as Atom (feedgen) or JSON Feed.
- ``routes.py``: ``/feeds/changes.atom|json`` (public) and ``/internal/feeds/...`` (staff).

The records themselves are written by the store with each change (tsukuba_gis/store/outbox.py).
"""
