"""A page of feed entries as Atom (RFC 4287, made by feedgen) or JSON Feed 1.1.

feedgen writes no JSON Feed; that format is a plain JSON document (https://jsonfeed.org/version/1.1),
made here from the same entries and links so both formats always say the same.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from feedgen.feed import FeedGenerator
from lxml import etree

from server.feeds.entries import Entry

JSON_FEED = "https://jsonfeed.org/version/1.1"
ATOM = "{http://www.w3.org/2005/Atom}"


@dataclass(frozen=True)
class Page:
    """One page of a feed: its entries and the links around it.

    Attributes:
        self_url: this page; first_url: the newest page (the feed's id, the same on every page);
            next_url: the next (older) page, None on the last.
        home_url: the map; tag: the authority of entry ids (``tag:<host>,2026:change/<id>``).
    """

    title: str
    self_url: str
    first_url: str
    next_url: str | None
    home_url: str
    author: str
    lang: str
    tag: str
    entries: tuple[Entry, ...]

    def entry_id(self, entry: Entry) -> str:
        """The stable id of an entry (the change record's id, per server)."""
        return f"tag:{self.tag},2026:change/{entry.id}"

    def updated(self) -> datetime:
        """The newest entry's time (now for an empty page)."""
        return _time(self.entries[0].updated) if self.entries else datetime.now(UTC).replace(microsecond=0)


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def _content(entry: Entry) -> str:
    return "\n".join([*entry.lines, entry.cause])


def atom(page: Page) -> bytes:
    """The page as an Atom feed document."""
    feed = FeedGenerator()
    feed.id(page.first_url)
    feed.title(page.title)
    feed.author({"name": page.author})
    feed.language(page.lang)
    feed.updated(page.updated())
    feed.link(href=page.self_url, rel="self", type="application/atom+xml")
    feed.link(href=page.home_url, rel="alternate", type="text/html")
    if page.next_url:
        feed.link(href=page.next_url, rel="next", type="application/atom+xml")
    for entry in page.entries:
        item = feed.add_entry(order="append")
        item.id(page.entry_id(entry))
        item.title(entry.title)
        item.updated(_time(entry.updated))
        item.content(_content(entry), type="text")
        item.category(term=entry.layer_id, label=entry.layer_title)
    return _with_entry_links(feed.atom_str(pretty=False), page.entries)


def _links(entry: Entry) -> list[dict[str, str]]:
    links = []
    if entry.map_url:
        links.append({"href": entry.map_url, "rel": "alternate", "type": "text/html"})
    if entry.api_url:
        links.append({"href": entry.api_url, "rel": "related", "type": "application/geo+json"})
    return links


def _with_entry_links(document: bytes, entries: tuple[Entry, ...]) -> bytes:
    """The entries' links added to feedgen's document: feedgen 1.0 writes an entry link's
    ``href`` only (its ``rel`` and ``type`` are lost: ``FeedEntry.atom_entry`` reads them from the
    element it just made), and a reader then takes the API link for the page to open."""
    root = etree.fromstring(document)
    for element, entry in zip(root.iterfind(f"{ATOM}entry"), entries, strict=True):
        for link in _links(entry):
            etree.SubElement(element, f"{ATOM}link", link)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def json_feed(page: Page) -> dict[str, Any]:
    """The page as a JSON Feed 1.1 document (``_tsukuba_gis``: the entry's layer, kind, place)."""
    document: dict[str, Any] = {
        "version": JSON_FEED,
        "title": page.title,
        "home_page_url": page.home_url,
        "feed_url": page.self_url,
        "language": page.lang,
        "authors": [{"name": page.author}],
        "items": [_item(page, entry) for entry in page.entries],
    }
    if page.next_url:
        document["next_url"] = page.next_url
    return document


def _item(page: Page, entry: Entry) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": page.entry_id(entry),
        "title": entry.title,
        "content_text": _content(entry),
        "date_published": _time(entry.updated).isoformat(),
        "tags": [entry.layer_id],
        "_tsukuba_gis": {
            "change": entry.id,
            "layer": entry.layer_id,
            "kind": entry.kind,
            "point": list(entry.point) if entry.point else None,
            "api": entry.api_url,
        },
    }
    if entry.map_url:
        item["url"] = entry.map_url
    if entry.api_url:
        item["external_url"] = entry.api_url
    return item
