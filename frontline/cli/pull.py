"""``frontline pull``: fetch new and revised versions from a live feed into the store."""

from __future__ import annotations

import logging
import sys

import click

from ._common import STORE_OPT, _open, _print_json, _table, console, guard


def _pull_store(store_path, quiet: bool):
    """Log to stderr (warnings only when ``quiet``) and open the store pulled into, made when missing."""
    from pathlib import Path

    from ..store import default_store_path, init_store, is_server_url

    logging.basicConfig(
        level=logging.WARNING if quiet else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if is_server_url(store_path):  # a PostGIS database (made a store by `frontline init`), not a file path
        return store_path, _open(store_path)
    path = Path(store_path) if store_path else default_store_path()
    return path, (_open(path) if path.exists() else init_store(path))


@click.group()
def pull():
    """Fetch new and revised versions from a live feed (incremental, resumable).

    \b
    frontline pull deepstate                       # the DeepStateMAP API
    frontline pull deepstate --base-url http://127.0.0.1:8000/api --json
    frontline pull arcgis https://host/arcgis/rest/services/Control/FeatureServer --layer 0 --mapping m.json
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
    from ..live_pull import pull as do_pull
    from ..sources import deepstate

    path, st = _pull_store(store_path, quiet or as_json)
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


@pull.command("arcgis")
@STORE_OPT
@click.argument("url")
@click.option(
    "--layer",
    type=click.IntRange(min=0),
    default=None,
    help="Layer number in the service (omit when URL is the layer's own).",
)
@click.option(
    "--mapping",
    "mapping_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="JSON mapping of attribute values to statuses (as for import --format gis).",
)
@click.option("--source", default=None, help="Source name in the store (default arcgis:<host>/<layer name>).")
@click.option("--where", default=None, help="SQL filter sent to the server (default all features).")
@click.option("--edit-field", default=None, help="Edit-date field (default the layer's editFieldsInfo).")
@click.option("--full", is_flag=True, help="Fetch every feature, not only the edits since the last pull.")
@click.option("--page-size", type=click.IntRange(min=1), default=None, help="Features per query (<= maxRecordCount).")
@click.option("--timeout", default=30.0, show_default=True, help="Seconds per request before it is retried.")
@click.option("--retries", default=4, show_default=True, help="Retries per request (backoff with jitter).")
@click.option("--contact", default=None, envvar="FRONTLINE_CONTACT", help="E-mail or URL put in the User-Agent.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--quiet", is_flag=True, help="No table.")
@guard()
def arcgis_cmd(
    store_path,
    url,
    layer,
    mapping_path,
    source,
    where,
    edit_field,
    full,
    page_size,
    timeout,
    retries,
    contact,
    as_json,
    quiet,
):
    """Pull an ArcGIS REST feature-service layer: one new version when anything changed.

    Pages through the layer's query endpoint; later pulls ask only for the
    features edited since the last one (by the layer's edit-date field) and
    merge them with the stored layer state by object id. Nothing is stored
    when a request fails. Exit status: 0 done, 1 the layer could not be read.
    """
    from ..errors import InputError
    from ..live_pull import pull_arcgis
    from ..sources.arcgis import load_mapping

    try:
        mapping = load_mapping(mapping_path)
    except ValueError as exc:
        raise InputError(str(exc).split(": ", 1)[-1], where=mapping_path, field="--mapping") from None
    path, st = _pull_store(store_path, quiet or as_json)
    try:
        res = pull_arcgis(
            st,
            url,
            mapping,
            layer=layer,
            source=source,
            where=where,
            edit_field=edit_field,
            full=full,
            page_size=page_size,
            timeout=timeout,
            retries=retries,
            contact=contact,
        )
    finally:
        st.close()
    d = res.as_dict()
    if as_json:
        _print_json(d)
    elif not quiet:
        cols = ["source", "incremental", "fetched", "features", "changed", "deleted", "version", "status"]
        _table([{k: d[k] for k in cols}], cols, title=f"Pulled {res.url} into {path}")
    if res.error:
        if not as_json:
            click.echo(f"Error: {res.error}", err=True)
        sys.exit(1)
