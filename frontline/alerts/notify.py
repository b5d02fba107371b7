"""Alerts and their delivery: to the log always, as a JSON POST to a webhook, as a CoT marker to a TAK server.

The webhook is retried through :mod:`frontline._http`; the TAK sink (TCP or UDP, :func:`frontline.tak.send_cot`)
with the same backoff. A failed delivery is logged, never raised: a broken receiver never stops ``watch``.
"""

from __future__ import annotations

import hashlib
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

from .config import TakConfig, WebhookConfig

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

    def place(self) -> tuple[float, float] | None:
        """``(lon, lat)`` the alert is about (a neck's location, a settlement), or None when it has none."""
        v = self.values
        loc = v.get("location")
        if isinstance(loc, (list, tuple)) and len(loc) == 2:
            return float(loc[0]), float(loc[1])
        if isinstance(v.get("lon"), (int, float)) and isinstance(v.get("lat"), (int, float)):
            return float(v["lon"]), float(v["lat"])
        return None

    def cot(self, stale_s: float = 24 * 3600) -> bytes | None:
        """The alert as a CoT map marker (``b-m-p-s-m``) at its place, the message in remarks; None without a place."""
        from frontline.tak import marker_event

        at = self.place()
        if at is None:
            return None
        text = "|".join(str(x) for x in (self.rule, self.version, self.time, self.message))
        uid = "frontline-alert-" + hashlib.blake2b(text.encode(), digest_size=10).hexdigest()
        remarks = f"[{self.rule}] {self.message} (version {self.version}, {self.time}; fired {self.fired_at})"
        return marker_event(uid, at[0], at[1], f"alert {self.rule}", remarks, stale_s=stale_s)


class Notifier:
    """Sends alerts to the log and, when configured, to a webhook (JSON POST) and a TAK server (CoT), retried.

    Parameters
    ----------
    webhook
        Where to POST; None for none.
    tak
        Where to send CoT markers; None for none.
    sleep
        Wait function between attempts (tests may pass a fast one).
    stop_event
        Abandon waits between attempts when set.
    """

    def __init__(
        self,
        webhook: WebhookConfig | None = None,
        *,
        tak: TakConfig | None = None,
        sleep=time.sleep,
        stop_event: threading.Event | None = None,
    ):
        self.webhook = webhook
        self.tak = tak
        self.sleep = sleep
        self.stop_event = stop_event
        self.rng = random.Random()

    def send(self, alert: Alert) -> bool:
        """Log the alert, POST it and send it to TAK; True when every configured receiver took it.

        Failures are logged, never raised.
        """
        log.warning("ALERT [%s] %s (version %s, %s)", alert.rule, alert.message, alert.version, alert.time)
        ok = self._post(alert) if self.webhook is not None else True
        if self.tak is not None:
            ok = self._send_tak(alert, self.tak) and ok
        return ok

    def _send_tak(self, alert: Alert, t: TakConfig) -> bool:
        """Send the alert's CoT marker, retried with exponential backoff; True when it went (or has no place)."""
        from frontline.tak import send_cot

        data = alert.cot(stale_s=t.stale_hours * 3600)
        if data is None:
            log.info("alert [%s] has no place: not sent to TAK %s", alert.rule, t.url)
            return True
        for n in range(t.retries + 1):
            try:
                send_cot(t.url, data, t.timeout_s)
                return True
            except FetchError as exc:
                if n == t.retries or (self.stop_event is not None and self.stop_event.is_set()):
                    log.error("TAK %s did not take alert [%s]: %s", t.url, alert.rule, exc)
                    return False
                self.sleep(t.backoff_s * 2**n * (0.5 + self.rng.random()))
        return False

    def _post(self, alert: Alert) -> bool:
        """POST the alert's JSON to the webhook (retried); True when it took it."""
        assert self.webhook is not None
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
