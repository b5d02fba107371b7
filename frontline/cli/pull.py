"""``frontline pull``: fetch new and revised versions from a live feed into the store."""

from __future__ import annotations

import logging
import sys

import click

from ._common import STORE_OPT, _open, _print_json, _table, console, guard


@click.group()
def pull():
    """Fetch new and revised versions from a live feed (incremental, resumable).

    \b
    frontline pull deepstate                       # the DeepStateMAP API
    frontline pull deepstate --base-url http://127.0.0.1:8000/api --json
    """


@pull.command("deepstate")
@STORE_OPT
@click.option(
    "--base-url",
    default=None,
    envvar="FRONTLINE_DEEPSTATE_URL",
    help="API root of a DeepState-shaped feed (default: the DeepStateMAP API; $FRONTLINE_DEEPSTATE_URL).",
)
@click.option("--timeout", default=30.0, show_default=True, help="Seconds per request before it is retried.")
@click.option("--retries", default=4, show_default=True, help="Retries per request (backoff with jitter).")
@click.option(
    "--contact",
    default=None,
    envvar="FRONTLINE_CONTACT",
    help="E-mail or URL put in the User-Agent so the feed's operators can reach you.",
)
@click.option("--max-versions", type=int, default=None, help="Fetch at most this many pending versions.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--quiet", is_flag=True, help="No progress bar and no table.")
@guard()
def deepstate_cmd(store_path, base_url, timeout, retries, contact, max_versions, as_json, quiet):
    """Fetch what the feed has that the store lacks (new or revised by updatedAt).

    Each version is imported in its own transaction: interrupt it at any
    point and run it again to carry on. Versions that cannot be fetched or
    read are listed and fetched again next time. Exit status: 0 all done,
    3 some versions failed, 1 the listing could not be read.
    """
    from pathlib import Path

    from ..live_pull import pull as do_pull
    from ..sources import deepstate
    from ..store import default_store_path, init_store

    logging.basicConfig(
        level=logging.WARNING if (quiet or as_json) else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    path = Path(store_path) if store_path else default_store_path()
    st = _open(path) if path.exists() else init_store(path)
    try:
        res = do_pull(
            st,
            base_url or deepstate.DEFAULT_BASE_URL,
            progress=not (quiet or as_json),
            timeout=timeout,
            retries=retries,
            contact=contact,
            max_versions=max_versions,
        )
    finally:
        st.close()
    if as_json:
        _print_json(res.as_dict())
    elif not quiet:
        d = res.as_dict()
        _table(
            [{k: d[k] for k in ("listed", "pending", "added", "revised", "unchanged", "failed")}],
            ["listed", "pending", "added", "revised", "unchanged", "failed"],
            title=f"Pulled {res.base_url} into {path}",
        )
        for vid, reason in res.failed:
            console.print(f"[yellow]version {vid}[/]: {reason}")
    if res.error:
        if not as_json:
            click.echo(f"Error: {res.error}", err=True)
        sys.exit(1)
    if res.failed:
        sys.exit(3)
