"""Settings of the deliveries, read from the environment (prefix ``TSUKUBA_GIS_``)."""

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class NotifySettings(BaseSettings):
    """The mail server, the worker's pace and the retry and rate limits.

    Attributes:
        smtp_*: the mail server (``smtp_host`` unset: no e-mail subscriptions, 503);
            ``smtp_starttls`` upgrades the connection before ``smtp_user`` logs in.
        notify_interval_s: how often the worker reads new change records and due deliveries.
        notify_batch: change records planned at most in one round (one digest per subscriber).
        notify_digest_max: entries listed in one mail; the rest is "and N more" with the feed.
        notify_max_attempts: a delivery failing this often is dead (listed, redeliverable).
        notify_backoff_base_s, notify_backoff_max_s: the wait after the n-th failure is
            ``base * 2**(n-1)``, at most ``max``.
        notify_lease_s: the one worker's lease; another takes over this long after a crash.
        notify_senders: deliveries sent at once (a hanging receiver holds only one).
        webhook_timeout_s: the wait for a receiver's answer; smtp_timeout_s the mail server's.
        subscribe_per_address, subscribe_per_client: subscriptions asked at most in
            ``subscribe_window_s`` for one e-mail address and from one client address.
        subscribe_confirm_days: an unconfirmed subscription is deleted after this.
    """

    model_config = SettingsConfigDict(env_prefix="TSUKUBA_GIS_", env_file=".env", extra="ignore")

    smtp_host: str | None = None
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str = "noreply@localhost"
    smtp_starttls: bool = False
    smtp_timeout_s: float = Field(default=10.0, gt=0)
    notify_interval_s: float = Field(default=5.0, gt=0)
    notify_batch: int = Field(default=5000, ge=1)
    notify_digest_max: int = Field(default=20, ge=1)
    notify_max_attempts: int = Field(default=8, ge=1)
    notify_backoff_base_s: float = Field(default=30.0, ge=0)
    notify_backoff_max_s: float = Field(default=3600.0, ge=0)
    notify_lease_s: float = Field(default=30.0, gt=0)
    notify_senders: int = Field(default=4, ge=1)
    webhook_timeout_s: float = Field(default=10.0, gt=0)
    subscribe_per_address: int = Field(default=3, ge=1)
    subscribe_per_client: int = Field(default=10, ge=1)
    subscribe_window_s: float = Field(default=3600.0, gt=0)
    subscribe_confirm_days: int = Field(default=7, ge=1)

    def backoff(self, attempts: int) -> float:
        """Seconds to wait after the ``attempts``-th failure."""
        return min(self.notify_backoff_base_s * 2 ** (attempts - 1), self.notify_backoff_max_s)
