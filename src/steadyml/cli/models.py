"""`steady models list|show|alias`."""

from __future__ import annotations

import typer

from steadyml.cli.app import app, open_from
from steadyml.cli.output import console, json_option, print_json, table, when
from steadyml.registry.refs import ModelRef

models_app = typer.Typer(no_args_is_help=True, help="List, inspect and alias registered models.")
app.add_typer(models_app, name="models")


@models_app.command("list")
def list_models(ctx: typer.Context, as_json: bool = json_option) -> None:
    """List registered models with their latest version and aliases."""
    with open_from(ctx) as platform:
        models = platform.registry.list_models()
    if as_json:
        print_json(models)
        return
    rows = [[m["name"], m["latest_version"], m["versions"],
             ", ".join(f"{a}→{v}" for a, v in sorted(m["aliases"].items())),
             when(m["updated_ms"])] for m in models]
    console.print(table(f"{len(models)} model(s)",
                        ["model", "latest", "versions", "aliases", "updated (UTC)"], rows))


@models_app.command("show")
def show_model(ctx: typer.Context,
               ref: str = typer.Argument(..., help="NAME, NAME:VERSION or NAME@ALIAS."),
               as_json: bool = json_option) -> None:
    """Show a model's versions, or one version in detail."""
    parsed = ModelRef.parse(ref)
    gates = []
    with open_from(ctx) as platform:
        if parsed.version is None and parsed.alias is None:
            versions = platform.registry.versions(parsed.name)
        else:
            versions = [platform.registry.get(parsed)]
            gates = platform.registry.gates(versions[0].ref)
    if as_json:
        if len(versions) != 1 or parsed.version is None and parsed.alias is None:
            print_json(versions)
        else:
            print_json({**versions[0].to_dict(), "gates": [g.to_dict() for g in gates]})
        return
    rows = [[v.ref, v.flavor, ", ".join(v.aliases), (v.run_id or "-")[:12],
             ", ".join(f"{k}={val:.4g}" if isinstance(val, float) else f"{k}={val}"
                       for k, val in sorted(v.metrics.items())[:4]),
             v.artifact_digest[:12], when(v.created_ms)] for v in versions]
    console.print(table(f"model {parsed.name}", ["version", "flavor", "aliases", "run",
                                                  "metrics", "sha256", "registered (UTC)"], rows))
    if len(versions) == 1:
        sig = versions[0].signature
        console.print(table("signature inputs", ["feature", "dtype", "nullable"], [
            [c["name"], c["dtype"], c.get("nullable", False)] for c in sig.get("inputs", [])]))
    if gates:
        console.print(table("gate results (newest last)", ["gate", "verdict", "run", "when (UTC)",
                                                           "failed checks"], [
            [g.gate, "passed" if g.passed else "FAILED", (g.run_id or "-")[:12],
             when(g.created_ms), "; ".join(g.failed_checks()[:3]) or "-"] for g in gates]))


@models_app.command("alias")
def alias_model(ctx: typer.Context,
                ref: str = typer.Argument(..., help="NAME:VERSION (or NAME@OTHER_ALIAS)."),
                alias: str = typer.Argument(..., help="Alias to point at it, e.g. champion."),
                delete: bool = typer.Option(False, "--delete", help="Remove ALIAS instead."),
                as_json: bool = json_option) -> None:
    """Point ALIAS at a model version (audited), or remove it with --delete."""
    with open_from(ctx) as platform:
        if delete:
            platform.registry.delete_alias(ModelRef.parse(ref).name, alias)
            result: dict[str, object] = {"model": ModelRef.parse(ref).name, "alias": alias,
                                         "deleted": True}
        else:
            version = platform.registry.set_alias(ref, alias)
            result = {"model": version.name, "alias": alias, "version": version.version}
    if as_json:
        print_json(result)
    elif delete:
        console.print(f"Removed alias [bold]{alias}[/] of {result['model']}.")
    else:
        console.print(f"[bold]{result['model']}@{alias}[/] → version {result['version']}")
