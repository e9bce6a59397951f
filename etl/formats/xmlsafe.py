"""XML hand-overs (CityGML, GML, KML, code lists) read without letting the file choose what else is read.

A department file is data, not a program: it must not make the ETL open another file. So

- a DOCTYPE is refused outright (entity declarations are how XXE reads ``/etc/passwd`` or a
  neighbour's file; an external DTD is a file the document names). GML, CityGML, KML and the
  PLATEAU code lists never carry one. lxml would otherwise leave an undefined entity empty;
- a path the file names (a ``codeSpace`` code list, an ``xsi:schemaLocation`` that GDAL
  reads) must lie inside the sources folder: no absolute path, no ``..`` above it, no symlink
  leading out, no ``file:`` URL. The check is made before the file system is asked anything,
  so the answer never tells whether a file outside exists;
- error messages name the hand-over and what it named, never quote another file's content.
"""

from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

from lxml import etree

from etl.formats import FormatError

XSI = "{http://www.w3.org/2001/XMLSchema-instance}"
GDAL_XML_SUFFIXES = frozenset({".gml", ".xml", ".kml"})
_SCAN_BYTES = 1 << 20  # the prolog and root element of any hand-over fit in the first MiB


def _refuse_doctype(path: Path, tree: etree._ElementTree) -> None:
    info = tree.docinfo
    if info.doctype or info.internalDTD is not None or info.system_url:
        raise FormatError(
            f"{path}: has a DOCTYPE (DTD or entity declarations), which a GML/CityGML/KML hand-over"
            " never needs and which can make a reader open other files (XXE); refused. Ask the"
            " department to export the file again without it"
        )


def parser() -> etree.XMLParser:
    """A parser that loads no DTD, resolves no entity and opens no URL."""
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=True)


def parse(path: Path) -> etree._ElementTree:
    """The whole document (code lists are small), refused if it has a DOCTYPE."""
    tree = etree.parse(str(path), parser())
    _refuse_doctype(path, tree)
    return tree


def iterparse(path: Path) -> Iterator[tuple[str, etree._Element]]:
    """``start``/``end`` events of a large document, refused at its root if it has a DOCTYPE."""
    events = etree.iterparse(
        str(path),
        events=("start", "end"),
        huge_tree=True,
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
    )
    first = True
    for event, el in events:
        if first:
            _refuse_doctype(path, el.getroottree())
            first = False
        yield event, el


def inside(root: Path, base: Path, named: str, what: str, path: Path) -> Path | None:
    """The file ``named`` (relative to ``base``) if it lies inside ``root``; None for a web URL.

    Raises FormatError naming ``path`` (the hand-over) and ``what`` it named when the name
    leads outside ``root``, the same whether or not such a file exists.
    """
    parts = urlsplit(named)
    if parts.scheme in ("http", "https"):
        return None  # a web address: nothing is fetched, the caller looks it up locally or not
    if parts.scheme == "file":
        named = unquote(parts.path)
    elif len(parts.scheme) > 1:  # urn:, ftp:, ... (one letter is a Windows drive)
        return None
    text = named.replace("\\", "/")
    outside = FormatError(
        f"{path}: {what} {named[:200]!r} points outside the sources folder; a hand-over may only"
        " name files inside it (refused)"
    )
    if PurePosixPath(text).is_absolute() or (len(text) > 1 and text[1] == ":"):
        raise outside
    top = root.resolve()
    candidate = (base / text).resolve()
    if not candidate.is_relative_to(top):
        raise outside
    return candidate


def check_gdal_xml(path: Path, root: Path) -> None:
    """Before GDAL opens an XML hand-over: no DOCTYPE, and no schema named outside ``root``.

    GDAL's GML driver reads the local ``.xsd`` files that ``xsi:schemaLocation`` names.
    """
    if path.suffix.lower() not in GDAL_XML_SUFFIXES:
        return
    started = None
    head = etree.XMLPullParser(
        events=("start",), resolve_entities=False, no_network=True, load_dtd=False, huge_tree=True
    )
    try:
        with open(path, "rb") as stream:
            while started is None and stream.tell() < _SCAN_BYTES and (chunk := stream.read(64 * 1024)):
                head.feed(chunk)
                started = next(iter(head.read_events()), None)
    except etree.XMLSyntaxError:
        return  # malformed: GDAL's own error says where
    if started is None:
        return  # not XML after all (or no root yet): GDAL's own error will say so
    element = started[1]
    _refuse_doctype(path, element.getroottree())
    locations = (element.get(f"{XSI}schemaLocation") or "").split()
    for location in locations[1::2]:  # namespace, location pairs
        inside(root, path.parent, location, "xsi:schemaLocation", path)
    for location in (element.get(f"{XSI}noNamespaceSchemaLocation") or "").split():
        inside(root, path.parent, location, "xsi:noNamespaceSchemaLocation", path)
