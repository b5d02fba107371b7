"""Alerts and their delivery: to the log always, and as a JSON POST to a webhook (retried through frontline._http)."""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from frontline._http import FetchError, HttpOptions, Stopped, request
from frontline._json import plain
from frontline.model import iso

from .config import WebhookConfig

log = logging.getLogger("frontline.alerts")


@dataclass
class Alert:
    """One fired alert."""

    rule: str
    kind: str
    message: str
    values: dict[str, Any]
    version: str | None
    time: str | None
    source: str | None = None
    fired_at: str = field(default_factory=lambda: iso(time.time()) or "")

    def payload(self) -> dict[str, Any]:
        """The JSON body POSTed to the webhook (stable field names)."""
        return {
            "rule": self.rule,
            "kind": self.kind,
            "message": self.message,
            "values": plain(self.values),
            "version": self.version,
            "time": self.time,
            "source": self.source,
            "fired_at": self.fired_at,
        }


class Notifier:
    """Sends alerts to the log and, when configured, to a webhook (JSON POST, retried).

    Parameters
    ----------
    webhook
        Where to POST; None for the log only.
    sleep
        Wait function between attempts (tests may pass a fast one).
    stop_event
        Abandon waits between attempts when set.
    """

    def __init__(
        self, webhook: WebhookConfig | None = None, *, sleep=time.sleep, stop_event: threading.Event | None = None
    ):
        self.webhook = webhook
        self.sleep = sleep
        self.stop_event = stop_event
        self.rng = random.Random()

    def send(self, alert: Alert) -> bool:
        """Log the alert and POST it; True when the webhook took it (or there is none).

        Failures are logged, never raised.
        """
        log.warning("ALERT [%s] %s (version %s, %s)", alert.rule, alert.message, alert.version, alert.time)
        if self.webhook is None:
            return True
        w = self.webhook
        body = json.dumps(alert.payload(), ensure_ascii=False).encode()
        opts = HttpOptions(timeout=w.timeout_s, retries=w.retries, backoff=w.backoff_s)
        try:
            request(
                w.url,
                opts,
                method="POST",
                data=body,
                accept="*/*",
                headers={"Content-Type": "application/json", **w.headers},
                stop_event=self.stop_event,
                sleep=self.sleep,
                rng=self.rng,
            )
            return True
        except (FetchError, Stopped) as exc:  # a broken receiver is logged, never fatal
            log.error("webhook %s did not take alert [%s]: %s", w.url, alert.rule, exc)
            return False
