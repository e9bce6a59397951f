"""What the GML readers (CityGML, FGD) share: the document streamed one top-level element at a
time, and what they ask of an element (its children, name, GML id, the error that points at it)."""

from collections.abc import Iterator
from pathlib import Path

from lxml import etree

from etl.formats import FormatError, xmlsafe


def children(el: etree._Element) -> Iterator[etree._Element]:
    """Element children only: comments and processing instructions have no QName."""
    return (child for child in el if isinstance(child.tag, str))


def local(el: etree._Element) -> str:
    """The name without its namespace."""
    return etree.QName(el).localname


def is_gml(el: etree._Element) -> bool:
    """In a GML namespace: GML 3.1.1 (CityGML 1.0/2.0, FGD) and GML 3.2 (CityGML 3.0) share
    this prefix."""
    return (etree.QName(el).namespace or "").startswith("http://www.opengis.net/gml")


def gml_id(el: etree._Element) -> str | None:
    """The ``gml:id`` attribute, of whichever GML version."""
    for key, value in el.attrib.items():
        if key.startswith("{http://www.opengis.net/gml") and key.endswith("}id"):
            return value
    return None


def fail(path: Path, el: etree._Element, why: str) -> FormatError:
    """The error of a hand-over at one element (file, line, element)."""
    return FormatError(f"{path}: line {el.sourceline}: <{local(el)}>: {why}")


def top_level(path: Path, root_name: str, refusal: str) -> Iterator[etree._Element]:
    """Each child of the document's root, whole (at its end), streamed: it and what came before
    are dropped from memory when the caller asks for the next. FormatError ``refusal`` when the
    root is not ``root_name``."""
    depth, root = 0, None
    for event, el in xmlsafe.iterparse(path):
        if event == "start":
            depth += 1
            if root is None:
                root = el
                if local(root) != root_name:
                    raise fail(path, root, refusal)
            continue
        depth -= 1
        if depth != 1:
            continue
        yield el
        el.clear()
        while el.getprevious() is not None:
            del root[0]
