"""Helpers of the residents' reports tests (issue 17): photos made by Pillow with EXIF GPS and
seeded markers, and an Open311 submission with its proof of work solved."""

import hashlib
import io

from PIL import Image

from server.reports.challenge import solve, zero_bits
from server.reports.settings import ReportSettings

# Markers that must never reach a public answer (contact, own words, EXIF).
EMAIL = "leak-marker-mail@example.jp"
ORIGINAL = "LEAKMARKER-ORIGINAL 家の前の道路に大きな穴"
EXIF_MARK = "LEAKMARKER-EXIF-CAMERA"
IN_CITY = (36.0828, 140.1115)  # lat, lon: the city centre area
TOKYO = (35.6812, 139.7671)
TEST_RULES = ReportSettings(
    pow_bits=4,
    per_address_per_hour=12,
    photo_max_bytes=4 * 1024 * 1024,
    photo_max_pixels=20_000_000,
    photo_edge=800,
    secret="tests only",
)


def photo_with_gps(size: tuple[int, int] = (1600, 1200), quality: int = 90) -> bytes:
    """A JPEG with noise-free gradients, an EXIF camera marker and a GPS position."""
    image = Image.radial_gradient("L").resize(size).convert("RGB")
    exif = Image.Exif()
    exif[0x010F] = EXIF_MARK  # Make
    exif[0x0132] = "2026:12:03 10:00:00"
    exif.get_ifd(0x8825).update({1: "N", 2: (36.0, 5.0, 0.0), 3: "E", 4: (140.0, 6.0, 0.0)})
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality, exif=exif)
    return out.getvalue()


def wrong_nonce(challenge: str, bits: int) -> str:
    """A nonce that does not answer the challenge (a random one would, once in 2**bits)."""
    nonce = 0
    while zero_bits(hashlib.sha256(f"{challenge}:{nonce}".encode()).digest()) >= bits:
        nonce += 1
    return str(nonce)


def report_form(client, lat_lon=IN_CITY, wrong: bool = False, **fields) -> dict:
    """The fields of a report with a solved challenge (``client``: an httpx-like client;
    ``wrong``: with a nonce that does not answer it)."""
    given = client.get("/open311/v2/challenge.json").json()
    answer = wrong_nonce if wrong else solve
    form = {
        "service_code": "road_damage",
        "lat": str(lat_lon[0]),
        "long": str(lat_lon[1]),
        "description": ORIGINAL,
        "email": EMAIL,
        "challenge": given["challenge"],
        "nonce": answer(given["challenge"], given["bits"]),
    }
    return {**form, **fields}


def submit(client, photo: bytes | None = None, name: str = "IMG_0001.JPG", **fields):
    """POST a report (multipart with the photo as ``media`` when given); the response."""
    form = report_form(client, **fields)
    files = {"media": (name, photo, "image/jpeg")} if photo is not None else None
    if files:
        return client.post("/open311/v2/requests.json", data=form, files=files)
    return client.post("/open311/v2/requests.json", data=form)
