"""`steady token create|list|revoke`."""

from __future__ import annotations

import typer

from steadyml.cli.app import app, open_from
from steadyml.cli.output import console, json_option, print_json, table, when

token_app = typer.Typer(no_args_is_help=True,
                        help="Manage bearer tokens for state-changing admin API calls.")
app.add_typer(token_app, name="token")


@token_app.command("create")
def create(ctx: typer.Context, name: str = typer.Argument("default", help="A label, e.g. ci."),
           as_json: bool = json_option) -> None:
    """Create a token and print it once: it is stored only as a hash."""
    with open_from(ctx) as platform:
        token, secret = platform.tokens.create(name)
    if as_json:
        print_json({**token.to_dict(), "token": secret})
        return
    console.print(f"Token [bold]{token.id}[/] ({name}). Copy it now, it is not shown again:")
    console.print(secret, highlight=False, soft_wrap=True)


@token_app.command("list")
def list_tokens(ctx: typer.Context, as_json: bool = json_option) -> None:
    """List tokens (ids and labels; never the secrets)."""
    with open_from(ctx) as platform:
        tokens = platform.tokens.list()
    if as_json:
        print_json(tokens)
        return
    console.print(table(f"{len(tokens)} token(s)", ["id", "name", "created by", "created (UTC)",
                                                     "revoked (UTC)"],
                        [[t.id, t.name, t.actor, when(t.created_ms), when(t.revoked_ms)]
                         for t in tokens]))


@token_app.command("revoke")
def revoke(ctx: typer.Context, token_id: str = typer.Argument(..., help="The token's id."),
           as_json: bool = json_option) -> None:
    """Revoke a token: requests that present it get 401 from then on."""
    with open_from(ctx) as platform:
        token = platform.tokens.revoke(token_id)
    if as_json:
        print_json(token)
    else:
        console.print(f"Revoked token {token.id} ({token.name}).")
