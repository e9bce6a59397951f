"""The delivery worker: reads the outbox on from its cursor, plans deliveries, sends them.

One worker at a time holds the store's lease (``take_lease``; a crashed one's lease runs out
after ``notify_lease_s``). A round: plan the change records after the cursor (deliveries and the
new cursor in one transaction: a kill -9 before the commit plans the same records again, one
after it finds the rows), then send what is due, each delivery on its own (a receiver that hangs
holds one sender for ``webhook_timeout_s``, the others go on). A delivery is at least once: a
kill between the receiver's answer and recording it sends it again, with the same idempotency
key (Message-ID, X-Tsukuba-GIS-Delivery), so the receiver can drop the copy.

A store that does not answer (PostgreSQL restarting) stops the round; the next one tries again.
"""

import logging
import os
import secrets
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from server.notify import send
from server.notify.compose import Planner
from server.notify.settings import NotifySettings
from server.snapshot import Snapshots
from tsukuba_gis.errors import GisError
from tsukuba_gis.store.notify import Delivery, Webhook

LOG = logging.getLogger(__name__)
ROUNDS_OF_PLANNING = 20  # batches planned at most before sending what is due
DUE_PER_ROUND = 200
KEEP_SENT_S = 30 * 86400


class Worker:
    """Plans and sends deliveries for one store.

    Attributes:
        holder: this worker's name in the lease (host, process, a random part).
    """

    def __init__(self, snapshots: Snapshots, settings: NotifySettings):
        self.snapshots, self.settings, self.store = snapshots, settings, snapshots.store
        self.public_url = snapshots.settings.public_url or ""
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self._pool = ThreadPoolExecutor(settings.notify_senders, thread_name_prefix="notify-send")

    def run(self, stop: threading.Event) -> None:
        """Rounds until ``stop`` is set; the lease is given up at the end."""
        try:
            while not stop.is_set():
                try:
                    self.round()
                except Exception:  # a bug in one round must not stop the deliveries for good
                    LOG.exception("delivery round failed")
                stop.wait(self.settings.notify_interval_s)
        finally:
            self.close()

    def round(self) -> bool:
        """One round, if this worker is the leader; whether it was. Store outages are logged."""
        try:
            if not self.store.take_lease(self.holder, time.time(), self.settings.notify_lease_s):
                return False
            for _ in range(ROUNDS_OF_PLANNING):
                if not self.plan():
                    break
            self.send_due()
            self.prune()
        except GisError as err:
            LOG.warning("delivery round stopped: %s", err)
        return True

    def planner(self) -> Planner:
        """The planner over the current snapshots."""
        s = self.snapshots.settings
        return Planner(
            {audience: self.snapshots.get(audience) for audience in ("public", "internal")},
            self.public_url,
            {"ja": s.city_name_ja, "en": s.city_name_en},
            self.store.notify_secret(),
            self.settings.notify_digest_max,
        )

    def plan(self) -> bool:
        """Plan the next batch of records; whether there was one."""
        cursor = self.store.notify_cursor()
        records = self.store.change_records(after=cursor, limit=self.settings.notify_batch)
        if not records:
            return False
        subscriptions, webhooks = self.store.notify_targets()
        planned = self.planner().plan(records, subscriptions, webhooks) if subscriptions or webhooks else []
        if self.store.plan_deliveries(cursor, records[-1].id, planned, time.time()):
            LOG.info(
                "planned %d deliveries for change records %d-%d", len(planned), records[0].id, records[-1].id
            )
        return len(records) == self.settings.notify_batch

    def send_due(self) -> int:
        """Send every due delivery (at most DUE_PER_ROUND); how many were tried."""
        due = self.store.due_deliveries(time.time(), DUE_PER_ROUND)
        if not due:
            return 0
        hooks = {h.id: h for h in self.store.webhooks()}
        list(self._pool.map(lambda d: self.deliver(d, hooks), due))
        return len(due)

    def deliver(self, delivery: Delivery, hooks: dict[int, Webhook]) -> None:
        """Send one delivery and record the outcome (sent, again later, or dead)."""
        try:
            if not self._send(delivery, hooks):
                self.store.drop_delivery(delivery.key)  # unsubscribed or removed meanwhile
                return
            now = time.time()
            self.store.delivery_done(delivery.key, "sent", delivery.attempts + 1, now, None, now)
        except send.SendFailed as err:
            self._failed(delivery, str(err))
        except GisError as err:  # the store went away: the next round sends it (again)
            LOG.warning("delivery %s not recorded: %s", delivery.key, err)

    def _send(self, delivery: Delivery, hooks: dict[int, Webhook]) -> bool:
        """Send to the delivery's target; False when the target is gone."""
        if delivery.kind == "webhook":
            hook = hooks.get(delivery.target)
            if hook is not None:
                send.webhook(self.settings, hook.url, hook.secret, delivery.key, delivery.payload)
            return hook is not None
        subscription = self.store.subscription(delivery.target)
        if subscription is not None:
            content = delivery.content
            send.mail(
                self.settings,
                subscription.email,
                content["subject"],
                content["text"],
                delivery.key,
                self.public_url,
                content.get("unsubscribe", ""),
            )
        return subscription is not None

    def _failed(self, delivery: Delivery, reason: str) -> None:
        attempts = delivery.attempts + 1
        now = time.time()
        if attempts >= self.settings.notify_max_attempts:
            LOG.warning("delivery %s is dead after %d attempts: %s", delivery.key, attempts, reason)
            self.store.delivery_done(delivery.key, "dead", attempts, now, reason, now)
        else:
            LOG.info("delivery %s failed (attempt %d): %s", delivery.key, attempts, reason)
            self.store.delivery_done(
                delivery.key, "pending", attempts, now + self.settings.backoff(attempts), reason, now
            )

    def prune(self) -> None:
        """Forget unconfirmed subscriptions and old sent deliveries."""
        now = time.time()
        self.store.prune_subscriptions(now - self.settings.subscribe_confirm_days * 86400)
        self.store.prune_deliveries(now - KEEP_SENT_S)

    def close(self) -> None:
        """Stop the senders and give the lease up."""
        self._pool.shutdown(wait=True)
        try:
            self.store.release_lease(self.holder)
        except GisError as err:
            LOG.warning("could not release the delivery lease: %s", err)
