"""The Japanese chrome of the pygeoapi HTML pages: gettext catalogues for their ``{% trans %}``
blocks (pygeoapi 0.24 ships none for Japanese).

The catalogues are kept as ``.po`` text in ``server/ogcapi/locale/`` (reviewable, diffable) and
compiled once per process with Babel (pygeoapi's own dependency) into a private directory laid
out as ``Translations.load`` reads it (``<dir>/<lang>/LC_MESSAGES/messages.mo``); the generated
pygeoapi config names that directory as ``server.locale_dir``. English is the msgid itself.
"""

import atexit
import functools
import shutil
import tempfile
from pathlib import Path

from babel.messages import mofile, pofile

SOURCES = Path(__file__).parent / "locale"


@functools.cache
def locale_dir() -> str:
    """The compiled catalogues' directory (compiled on the first call in this process)."""
    target = Path(tempfile.mkdtemp(prefix="tsukuba-gis-locale-"))
    atexit.register(shutil.rmtree, target, ignore_errors=True)
    for po in sorted(SOURCES.glob("*.po")):
        with po.open("rb") as source:
            catalogue = pofile.read_po(source, locale=po.stem)
        out = target / po.stem / "LC_MESSAGES"
        out.mkdir(parents=True)
        with (out / "messages.mo").open("wb") as mo:
            mofile.write_mo(mo, catalogue)
    return str(target)
