"""`steady lineage` and `steady audit`."""

from __future__ import annotations

from typing import Any

import typer
from rich.tree import Tree

from steadyml.cli.app import app, open_from
from steadyml.cli.output import console, err_console, json_option, print_json, table, when
from steadyml.core.fingerprints import canonical_json


@app.command()
def lineage(ctx: typer.Context,
            ref: str = typer.Argument(..., help="NAME:VERSION, NAME@ALIAS or a DEPLOYMENT."),
            as_json: bool = json_option) -> None:
    """Show which data, code, params and environment produced a model (or what a deployment
    serves right now, since when, and the lineage of each of its models)."""
    with open_from(ctx) as platform:
        doc = platform.lineage(ref)
    if as_json:
        print_json(doc)
        return
    if "deployment" in doc:
        console.print(f"[bold]{doc['deployment']}[/] revision {doc['revision']} since "
                      f"{doc['since']} ({doc['reason']} by {doc['changed_by']})")
        for arm in doc["arms"]:
            console.print(f"[cyan]{arm['arm']}[/]: {arm['traffic_percent']:g} % of traffic")
            console.print(lineage_tree(arm["lineage"]))
        return
    console.print(lineage_tree(doc))


def lineage_tree(doc: dict[str, Any]) -> Tree:
    """Render a model's lineage document as a Rich tree."""
    model = doc["model"]
    aliases = f" @{', @'.join(model['aliases'])}" if model["aliases"] else ""
    root = Tree(f"[bold]{model['ref']}[/]{aliases}  ({model['flavor']}, registered "
                f"{model['registered_at']} by {model['registered_by']})")
    root.add(f"artifact {model['artifact']['digest']}  ({model['artifact']['size']} bytes)")
    run = doc["run"]
    if run is None:
        root.add("[yellow]no source run recorded[/]")
        return root
    run_node = root.add(f"run [bold]{run['id']}[/]  {run['experiment']}/{run['name']} "
                        f"{run['status']}  {run['started_at']}  by {run['actor']}")
    code = doc["code"] or {}
    state = ("[yellow]dirty[/], diff sha256 " + str(code.get("diff_hash"))[:16]
             if code.get("dirty") else "clean")
    run_node.add(f"code  commit [bold]{code.get('commit') or 'unknown'}[/] ({state})"
                 f"  branch {code.get('branch') or '-'}  repo {code.get('repo') or '-'}")
    data_node = run_node.add(f"datasets ({len(doc['datasets'])})")
    for d in doc["datasets"]:
        data_node.add(f"{d['context']}: [bold]{d['name']}[/]  fingerprint "
                      f"sha256:{d['fingerprint']}  {d['rows']} rows x {d['columns']} cols  "
                      f"{d['uri']}")
    run_node.add("params  " + ", ".join(f"{k}={v}" for k, v in sorted(doc["params"].items())))
    run_node.add("metrics " + ", ".join(
        f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
        for k, v in sorted(doc["metrics"].items())))
    env = doc["environment"]
    if env:
        run_node.add(f"environment  Python {env['python_version']} on {env['platform']}, "
                     f"{len(env['packages'])} packages, hash {env['hash'][:16]}")
    for dep in doc["deployments"]:
        root.add(f"serving: {dep['deployment']} ({dep['arm']}) since {dep['since']}, "
                 f"revision {dep['revision']}")
    return root


@app.command()
def audit(ctx: typer.Context,
          verify: bool = typer.Option(False, "--verify",
                                      help="Check the hash chain; exit 1 if it is broken."),
          subject: str = typer.Option(None, "--subject", help="e.g. model:churn or run:ID."),
          action: str = typer.Option(None, "--action", help="e.g. alias.moved."),
          limit: int = typer.Option(50, "--limit", "-n", help="Newest N entries."),
          as_json: bool = json_option) -> None:
    """List the audit log of state changes, newest first; --verify checks its hash chain."""
    with open_from(ctx) as platform:
        report = platform.verify_audit() if verify else None
        entries = platform.audit_entries(subject=subject, action=action, limit=limit)
    if as_json:
        out: dict[str, Any] = {"entries": entries}
        if report is not None:
            out["verify"] = {"ok": report.ok, "entries": report.entries,
                             "head_hash": report.head_hash, "problems": report.problems}
        print_json(out)
    else:
        rows = [[e.seq, when(e.ts_ms), e.actor, e.action, e.subject,
                 _short(e.before), _short(e.after)] for e in entries]
        console.print(table("audit log", ["#", "time (UTC)", "actor", "action", "subject",
                                          "before", "after"], rows))
        if report is not None and report.ok:
            console.print(f"[green]chain intact[/]: {report.entries} entries, head "
                          f"{report.head_hash[:16]}")
    if report is not None and not report.ok:
        for problem in report.problems:
            err_console.print(f"[bold red]audit chain broken:[/] {problem}")
        raise typer.Exit(1)


def _short(value: Any) -> str:
    if value is None:
        return "-"
    text = canonical_json(value)
    return text if len(text) <= 60 else text[:57] + "..."
