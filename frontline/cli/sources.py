"""``frontline sources``: the maps a store holds, with who made them, their licence and attribution."""

from __future__ import annotations

import click

from ._common import STORE_OPT, _print_json, _table, console, guard


@click.group(invoke_without_command=True)
@STORE_OPT
@click.pass_context
def sources(ctx: click.Context, store_path):
    """The sources (maps) of the store with their licence and attribution; `list` when no subcommand is given.

    \b
    frontline sources
    frontline sources set isw --title "ISW/CTP assessed control" --licence "CC BY-NC 4.0" \\
        --attribution "Institute for the Study of War and AEI's Critical Threats Project"
    """
    if ctx.invoked_subcommand is None:
        ctx.invoke(list_cmd, store_path=store_path)


@sources.command("list")
@STORE_OPT
@click.option("--json", "as_json", is_flag=True, help="Stable JSON for scripts.")
@guard(store="read")
def list_cmd(st, as_json=False):
    """Every source: versions held, first and last valid time, title, licence, attribution.

    A source without a recorded entry shows Frontline's default for it (DeepState's terms for `deepstate`),
    marked `default` in the `entry` column.
    """
    from ..store.source_info import list_sources

    rows = list_sources(st)
    if as_json:
        _print_json(rows)
        return
    if not rows:
        console.print("No sources yet: frontline import PATH, or frontline pull.")
        return
    for r in rows:
        r["entry"] = "recorded" if r["recorded"] else "default"
    _table(rows, ["name", "versions", "first", "last", "title", "licence", "attribution", "entry"], title="Sources")


@sources.command("set")
@STORE_OPT
@click.argument("name")
@click.option("--title", default=None, help="The map's name as its makers give it.")
@click.option("--licence", "--license", "licence", default=None, help="Its licence or terms of use.")
@click.option("--attribution", default=None, help="The text to show with its data.")
@click.option("--url", default=None, help="Where it is published.")
@click.option("--json", "as_json", is_flag=True, help="Stable JSON for scripts.")
@guard(store="write")
def set_cmd(st, name, title, licence, attribution, url, as_json):
    """Set NAME's title, licence, attribution or URL (the others are kept); NAME need not have versions yet."""
    from ..errors import InputError
    from ..store.source_info import set_source_info

    if title is None and licence is None and attribution is None and url is None:
        raise InputError("Nothing to set: give --title, --licence, --attribution or --url.")
    info = set_source_info(st, name, title=title, licence=licence, attribution=attribution, url=url)
    if as_json:
        _print_json(info)
        return
    console.print(f"Source {name}: {info['attribution'] or '(no attribution)'}; licence: {info['licence'] or '-'}")


def footer(st, names: str | list[str] | None) -> None:
    """Print the attribution of the sources a table showed, under it (the text a source asks to be shown with)."""
    from ..store.source_info import attribution_line

    console.print(f"[dim]{attribution_line(st, names)}[/]")
