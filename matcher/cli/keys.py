"""`matcher keys`: create, list and revoke API keys (secrets are shown once, stored hashed)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from matcher.cli.common import HomeOption, examples, fail, services
from matcher.domain.errors import MatcherError
from matcher.store.keys import SCOPES, KeyStore

__all__ = ["keys_app"]

keys_app = typer.Typer(
    help="API keys for the HTTP API (header X-API-Key). Scopes: read (match), agency (consortia, batches, "
    "exports), admin (profile writes, erasure, keys), owner (one profile).",
    no_args_is_help=True,
    epilog=examples('matcher keys create --scope agency --label "research council"', "matcher keys list --json",
                    "matcher keys revoke k1a2b3c4"),
)


def _keys(home: Path | None) -> KeyStore:
    return services(home, progress=False).keys


@keys_app.command("create", epilog=examples(
    'matcher keys create --scope agency --label "research council"',
    'matcher keys create --scope owner --owner tr-0001 --label "my profile"',
    'matcher keys create --scope read --label "portal" --replace   # revokes the earlier "portal" keys',
))
def create(
    scope: Annotated[str, typer.Option("--scope", help=f"One of: {', '.join(SCOPES)}.")],
    owner: Annotated[Optional[str], typer.Option("--owner", help="Profile id an owner key may edit.")] = None,
    label: Annotated[str, typer.Option("--label", help="A note for you, e.g. who holds the key.")] = "",
    replace: Annotated[bool, typer.Option("--replace", help="Revoke earlier keys with the same label.")] = False,
    home: HomeOption = None,
) -> None:
    """Create a key and print it once, as the last line of output. Only its SHA-256 digest is stored."""
    keys = _keys(home)
    try:
        if replace and label:
            for old in keys.list():
                if old.label == label:
                    keys.revoke(old.key_id)
        made, secret = keys.create(scope, owner=owner, label=label)
    except MatcherError as err:
        fail(err)
    who = f" for profile {made.owner}" if made.owner else ""
    typer.echo(f"created key {made.key_id} with scope '{made.scope}'{who}; it is shown once, keep it safe:")
    typer.echo(secret)


@keys_app.command("list", epilog=examples("matcher keys list", "matcher keys list --json"))
def list_keys(
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array of the keys.")] = False,
    home: HomeOption = None,
) -> None:
    """List active keys (ids, scopes, owners, labels; never the secrets)."""
    keys = _keys(home).list()
    if as_json:
        rows = [{"key_id": k.key_id, "scope": k.scope, "owner": k.owner, "label": k.label} for k in keys]
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for key in keys:
        typer.echo(f"{key.key_id}  {key.scope:<7} {key.owner or '-':<16} {key.label}")


@keys_app.command("revoke", epilog=examples("matcher keys list   # the ids", "matcher keys revoke k1a2b3c4"))
def revoke(key_id: Annotated[str, typer.Argument(help="The key id shown by `matcher keys list`.")],
           home: HomeOption = None) -> None:
    """Revoke a key: it stops working at once."""
    if not _keys(home).revoke(key_id):
        fail(f"no active key '{key_id}'")
    typer.echo(f"revoked {key_id}")
