"""A resident's photo made safe: the real format read from its bytes, decoded within limits,
re-encoded as a fresh JPEG with no metadata at all (EXIF and its GPS position, XMP, ICC, comments).

The upload's file name and declared type are ignored; only JPEG, PNG and WebP bytes are read,
and only by those decoders (``Image.open(formats=...)``), so an SVG or HTML page named
``photo.jpg`` is refused before any decoder sees it. HEIC is not read: Debian's Pillow has no
HEIF decoder and the PyPI one (pillow-heif) bundles its own libheif; phones send JPEG to a web
form anyway (iOS converts on upload).
"""

import io
import secrets
import warnings
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from tsukuba_gis.errors import BadRequest, PayloadTooLarge

MAGIC = {b"\xff\xd8\xff": "JPEG", b"\x89PNG\r\n\x1a\n": "PNG"}
FORMATS = ("JPEG", "PNG", "WEBP")
JPEG_QUALITY = 82


def sniff(raw: bytes) -> str:
    """The image format of the bytes themselves; BadRequest for anything but JPEG, PNG, WebP."""
    for magic, kind in MAGIC.items():
        if raw.startswith(magic):
            return kind
    if raw[:4] == b"RIFF" and raw[8:12] == b"WEBP":
        return "WEBP"
    raise BadRequest("photo: not a JPEG, PNG or WebP image (other files, SVG and HTML included, are refused)")


def clean_photo(raw: bytes, max_bytes: int, max_pixels: int, edge: int) -> bytes:
    """The photo as a new JPEG, its long edge at most ``edge``, without any metadata."""
    if len(raw) > max_bytes:
        raise PayloadTooLarge(f"photo: at most {max_bytes // 1024} kB")
    kind = sniff(raw)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(raw), formats=[kind])
            width, height = image.size
            if width * height > max_pixels:
                raise BadRequest(
                    f"photo: {width}×{height} pixels is over the limit of {max_pixels:,}"
                    " (a decompression bomb, or a photo to make smaller first)"
                )
            # JPEG: decode at the smallest scale still over the wanted size (a quarter of the
            # memory for a 4000×3000 photo); the box keeps the photo's shape, or no scale fits.
            scale = edge / max(width, height)
            image.draft("RGB", (int(width * scale), int(height * scale)))
            image = ImageOps.exif_transpose(image)  # the pixels as the phone meant them; EXIF goes below
            image.thumbnail((edge, edge))
            rgb = image.convert("RGB")
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise BadRequest("photo: too many pixels (a decompression bomb)") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError):
        raise BadRequest(f"photo: not a readable {kind} image (damaged or cut short)") from None
    # A new image from the pixels alone: nothing of the upload's info (EXIF, XMP, ICC) comes along.
    fresh = Image.frombytes("RGB", rgb.size, rgb.tobytes())
    out = io.BytesIO()
    fresh.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True)
    return out.getvalue()


def store_photo(photo_dir: Path, jpeg: bytes) -> str:
    """Write a cleaned photo under a random name (written aside, then renamed); its name."""
    photo_dir.mkdir(parents=True, exist_ok=True)
    name = f"{secrets.token_hex(16)}.jpg"
    part = photo_dir / f".{name}.part"
    part.write_bytes(jpeg)
    part.replace(photo_dir / name)
    return name
