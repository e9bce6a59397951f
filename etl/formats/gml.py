"""What the GML readers (CityGML, FGD) ask of an element: its children, name, GML id, and
the error that points at it."""

from collections.abc import Iterator
from pathlib import Path

from lxml import etree

from etl.formats import FormatError


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
