"""``frontline watch``: pull a live feed, recompute, fire alert rules; until stopped."""

from __future__ import annotations

import logging
import re
import sys

import click

from ..errors import InputError
from ._common import STORE_OPT, _print_json, guard, path_option

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DUR_RE = re.compile(r"(\d+(?:\.\d+)?)([smhd])")


def parse_duration(text: str) -> float:
    """Seconds from ``30s``, ``15m``, ``1h``, ``1h30m``, ``2d`` or a bare number of seconds.

    Raises
    ------
    InputError
        When the text is not a positive duration.
    """
    s = str(text).strip().lower().replace(" ", "")
    try:
        val = float(s)
    except ValueError:
        parts = _DUR_RE.findall(s)
        if not parts or "".join(a + b for a, b in parts) != s:
            raise InputError(f"{text!r} is not a duration: use e.g. 30s, 15m, 1h, 1h30m or seconds.") from None
        val = sum(float(a) * _UNITS[b] for a, b in parts)
    if not val > 0:
        raise InputError(f"{text!r} is not a positive duration.")
    return val


class _Duration(click.ParamType):
    name = "duration"

    def convert(self, value, param, ctx):
        if isinstance(value, (int, float)):
            return float(value)
        try:
            return parse_duration(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


@click.command()
@STORE_OPT
@click.option(
    "--every", type=_Duration(), default="15m", show_default=True, help="Time between cycles: 30s, 15m, 1h, 1h30m."
)
@path_option("--rules", "rules_path", exists=True, help="Alert rules (TOML; see docs/alerts.example.toml).")
@click.option(
    "--base-url",
    default=None,
    envvar="FRONTLINE_DEEPSTATE_URL",
    help="API root of a DeepState-shaped feed (default: the DeepStateMAP API).",
)
@click.option("--once", is_flag=True, help="Run one cycle and exit.")
@click.option("--timeout", default=30.0, show_default=True, help="Seconds per request before it is retried.")
@click.option("--contact", default=None, envvar="FRONTLINE_CONTACT", help="E-mail or URL put in the User-Agent.")
@click.option("--json", "as_json", is_flag=True, help="Print the cycle summaries as JSON at the end.")
@click.option("--quiet", is_flag=True, help="Log warnings and errors only.")
@guard()
def watch(store_path, every, rules_path, base_url, once, timeout, contact, as_json, quiet):
    """Pull a live feed, recompute and fire alert rules every --every, until stopped.

    \b
    frontline watch --every 15m --rules rules.toml
    frontline watch --once --rules rules.toml --base-url http://127.0.0.1:8000/api

    Stop it with Ctrl-C or SIGTERM: the version being imported is finished
    (or rolled back on a second Ctrl-C), never left half-written.
    """
    from ..sources import deepstate
    from ..store import default_store_path
    from ..watch import watch as run_watch

    logging.basicConfig(
        level=logging.WARNING if quiet else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    cycles = run_watch(
        store_path or default_store_path(),
        base_url=base_url or deepstate.DEFAULT_BASE_URL,
        every_s=every,
        rules_path=rules_path,
        once=once,
        timeout=timeout,
        contact=contact,
    )
    if as_json:
        _print_json([c.__dict__ for c in cycles])
