"""Residents' reports settings, read from the environment (prefix ``TSUKUBA_GIS_REPORTS_``)."""

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class ReportSettings(BaseSettings):
    """Limits, abuse checks and retention of residents' reports (issue 17).

    Attributes:
        enabled: serve /open311 and /reports (off: both answer 404; the viewer still shows its
            button, whose form then says it could not load the categories).
        keep_days: the personal part of a report (contact, client address, original text) is
            deleted this many days after the report (``tsukuba-gis reports purge``, also run
            at start-up and daily by the server).
        secret: signs the proof-of-work challenges; ``None``: a random one kept in
            ``<data dir>/reports/secret`` (every worker of the machine shares it; with several
            hosts set it, or share the data directory).
        pow_bits: leading zero bits of SHA-256 a challenge's answer needs (16: ~65,000 hashes
            on average, a median 0.2 s in Node's WebCrypto on the 2-core test VM, the viewer's
            code; slower phones take a few times that; tests use 4). 0 turns it off.
        pow_ttl_s: how long a challenge may be answered.
        per_address_per_hour: reports one client address may send in an hour (IPv6 per /64).
        per_token_per_minute: status reads / deletions per status token and worker.
        text_max: characters of the description; contact_max of the e-mail.
        photo_max_bytes, photo_max_pixels: the largest upload and decoded image accepted
            (Pillow's decompression-bomb limit is set to the pixels); photo_edge: the long
            edge of the stored JPEG. photo_workers: photos decoded at once per worker (each
            takes tens of MB while it is decoded; more at once would only share the same cores).
        duplicate_m, duplicate_days: a report of the same category this close and recent is
            named as a possible duplicate (the reporter sees it; staff may merge).
    """

    model_config = SettingsConfigDict(env_prefix="TSUKUBA_GIS_REPORTS_", env_file=".env", extra="ignore")

    enabled: bool = True
    keep_days: int = Field(default=90, ge=1)
    secret: SecretStr | None = None
    pow_bits: int = Field(default=16, ge=0, le=28)
    pow_ttl_s: float = Field(default=900, gt=0)
    per_address_per_hour: int = Field(default=10, ge=1)
    per_token_per_minute: int = Field(default=30, ge=1)
    text_max: int = Field(default=2000, ge=10)
    contact_max: int = Field(default=254, ge=6)
    photo_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    photo_max_pixels: int = Field(default=40_000_000, ge=10_000)
    photo_edge: int = Field(default=1600, ge=64)
    photo_workers: int = Field(default=2, ge=1)
    duplicate_m: float = Field(default=30, ge=0)
    duplicate_days: float = Field(default=14, ge=0)
