"""`steady policy apply|show|list|example|remove`."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
import yaml
from rich.markup import escape
from rich.text import Text

from steadyml.cli.app import app, open_from
from steadyml.cli.output import (
    console,
    err_console,
    json_option,
    print_json,
    seconds_text,
    table,
)
from steadyml.core.errors import InvalidInputError
from steadyml.deployments import DeploymentNotFoundError
from steadyml.monitoring import EXAMPLE_POLICY, Policy, parse_policy

policy_app = typer.Typer(no_args_is_help=True,
                         help="Apply, show and remove the policies the controller enforces.")
app.add_typer(policy_app, name="policy")


@policy_app.command("apply")
def apply(ctx: typer.Context,
          file: Path = typer.Argument(..., help="A YAML policy (start from `steady policy "
                                                "example`), or JSON from `policy show --json`."),
          as_json: bool = json_option) -> None:
    """Check a policy file and store it for its deployment, replacing the one before."""
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"Cannot read the policy file {str(file)!r}: {exc}.") from None
    policy = parse_policy(text, source=str(file))
    with open_from(ctx) as platform:
        platform.policies.apply(policy, source=text)
        try:
            platform.deployments.current(policy.deployment)
            exists = True
        except DeploymentNotFoundError:
            exists = False
    if as_json:
        print_json(policy.to_dict())
        return
    console.print(f"Applied the policy of [bold]{policy.deployment}[/] from {escape(str(file))}.",
                  highlight=False)
    for line in summary(policy):
        console.print(Text(f"  {line}"), soft_wrap=True)
    if not exists:
        err_console.print(f"note: deployment {policy.deployment!r} does not exist yet; the "
                          "controller enforces the policy once it is deployed.", highlight=False)


@policy_app.command("show")
def show(ctx: typer.Context, deployment: str = typer.Argument(...),
         as_json: bool = json_option) -> None:
    """Print the policy applied to DEPLOYMENT (durations in seconds)."""
    with open_from(ctx) as platform:
        policy = platform.policies.get(deployment)
    if as_json:
        print_json(policy.to_dict())
        return
    sys.stdout.write(yaml.safe_dump(policy.to_dict(), sort_keys=False))


@policy_app.command("list")
def list_policies(ctx: typer.Context, as_json: bool = json_option) -> None:
    """List the deployments that have a policy, with what each one watches."""
    with open_from(ctx) as platform:
        policies = platform.policies.all()
    if as_json:
        print_json([p.to_dict() for p in policies.values()])
        return
    console.print(table(f"{len(policies)} polic{'y' if len(policies) == 1 else 'ies'}",
                        ["deployment", "every", "window", "watches", "may"],
                        [[name, seconds_text(p.evaluate_every_s), seconds_text(p.window_s),
                          ", ".join(_sections(p)) or "-", ", ".join(_actions(p)) or "-"]
                         for name, p in sorted(policies.items())]))


@policy_app.command("example")
def example() -> None:
    """Print a commented example policy to start from."""
    sys.stdout.write(EXAMPLE_POLICY)


@policy_app.command("remove")
def remove(ctx: typer.Context, deployment: str = typer.Argument(...)) -> None:
    """Remove DEPLOYMENT's policy: the controller stops judging it (audited)."""
    with open_from(ctx) as platform:
        platform.policies.remove(deployment)
    console.print(f"Removed the policy of {deployment}; the controller no longer acts on it.",
                  highlight=False)


def summary(policy: Policy) -> list[str]:
    """Describe a policy in a few lines: what is judged, how often, and what may happen."""
    lines = [f"evaluated every {seconds_text(policy.evaluate_every_s)} over a "
             f"{seconds_text(policy.window_s)} window, "
             f"at least {policy.min_samples} requests per arm"]
    if policy.slo is not None:
        slo = policy.slo
        parts = [f"{label} {value:g}" for label, value in (
            ("latency p99 <=", slo.latency_p99_ms), ("error rate <=", slo.error_rate),
            ("cost per 1k <=", slo.cost_per_1k)) if value is not None]
        if slo.metric is not None:
            bound = f">= {slo.metric.min:g}" if slo.metric.min is not None \
                else f"<= {slo.metric.max:g}"
            parts.append(f"{slo.metric.name} {bound} (from >= {slo.metric.min_outcomes} "
                         "outcomes)")
        lines.append("SLOs: " + (", ".join(parts) or "none set"))
    if policy.drift is not None:
        d = policy.drift
        lines.append(f"drift: against {d.reference} every {seconds_text(d.window_s or 0)}, "
                     f"alpha {d.alpha:g}, "
                     f"effect >= {d.numeric_effect:g} (numeric) / {d.categorical_effect:g} "
                     f"(categorical), {d.persistence} window(s) in a row before acting")
    if policy.canary is not None:
        c = policy.canary
        lines.append("canary: steps " + " -> ".join(f"{s:g}%" for s in c.steps)
                     + f", {c.min_samples} samples and {seconds_text(c.min_duration_s)} per step")
    lines.append("may: " + (", ".join(_actions(policy)) or "nothing on its own"))
    if policy.required_gates:
        lines.append("deploys need passing gates: " + ", ".join(policy.required_gates))
    return lines


def _sections(policy: Policy) -> list[str]:
    return [name for name, section in (("slo", policy.slo), ("drift", policy.drift),
                                       ("canary", policy.canary)) if section is not None]


def _actions(policy: Policy) -> list[str]:
    a = policy.actions
    found = [name for name, on in (("promote", a.promote), ("rollback", a.rollback),
                                   ("alert", a.alert.enabled)) if on]
    if a.retrain is not None:
        found.append("retrain")
    return found
