from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from typer.testing import CliRunner

import steadyml
from steadyml import Platform, Settings
from steadyml.cli import app
from steadyml.store import tables


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    with Platform(Settings(home=home, actor="cli-test")) as platform:
        frame = load_breast_cancer(as_frame=True).frame.iloc[:, [0, 1, 2, 3, -1]]
        frame.columns = ["a", "b", "c", "d", "target"]
        for c in (0.1, 1.0):
            with steadyml.start_run("cancer", params={"C": c}, platform=platform) as run:
                run.log_dataset(frame, name="cancer")
                model = LogisticRegression(C=c, max_iter=2000).fit(frame[["a", "b", "c", "d"]],
                                                                   frame["target"])
                run.log_metrics({"acc": model.score(frame[["a", "b", "c", "d"]],
                                                    frame["target"])})
                run.register_model("cancer", model, input_example=frame[["a", "b", "c", "d"]])
    return home


def invoke(home: Path, *args: str):
    return CliRunner().invoke(app, ["--home", str(home), *args])


def test_runs_list_and_show(home: Path) -> None:
    result = invoke(home, "runs", "list", "--json", "--order-by", "metrics.acc DESC")
    assert result.exit_code == 0, result.output
    runs = json.loads(result.stdout)
    assert len(runs) == 2 and runs[0]["metrics"]["acc"] >= runs[1]["metrics"]["acc"]
    table = invoke(home, "runs", "list", "--filter", "params.C = '0.1'")
    assert table.exit_code == 0 and "1 run(s)" in table.stdout
    shown = invoke(home, "runs", "show", runs[0]["id"][:12], "--json")
    assert shown.exit_code == 0, shown.output
    detail = json.loads(shown.stdout)
    assert detail["run"]["id"] == runs[0]["id"]
    assert detail["datasets"][0]["name"] == "cancer"
    assert detail["environment"]["packages"]
    assert invoke(home, "runs", "show", runs[0]["id"]).exit_code == 0


def test_models_list_show_alias(home: Path) -> None:
    listed = json.loads(invoke(home, "models", "list", "--json").stdout)
    assert listed[0]["name"] == "cancer" and listed[0]["latest_version"] == 2
    moved = invoke(home, "models", "alias", "cancer:1", "champion", "--json")
    assert moved.exit_code == 0 and json.loads(moved.stdout)["version"] == 1
    one = json.loads(invoke(home, "models", "show", "cancer@champion", "--json").stdout)
    assert one["version"] == 1 and one["aliases"] == ["champion"]
    every = json.loads(invoke(home, "models", "show", "cancer", "--json").stdout)
    assert [v["version"] for v in every] == [2, 1]
    assert "champion" in invoke(home, "models", "show", "cancer").stdout
    assert invoke(home, "models", "alias", "cancer", "champion", "--delete").exit_code == 0
    assert json.loads(invoke(home, "models", "list", "--json").stdout)[0]["aliases"] == {}


def test_lineage_json_and_tree(home: Path) -> None:
    invoke(home, "models", "alias", "cancer:2", "champion")
    result = invoke(home, "lineage", "cancer@champion", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["model"]["ref"] == "cancer:2"
    assert len(doc["datasets"][0]["fingerprint"]) == 64
    assert doc["params"] == {"C": "1.0"}
    tree = invoke(home, "lineage", "cancer:2")
    assert tree.exit_code == 0 and doc["datasets"][0]["fingerprint"][:16] in tree.stdout


def test_audit_verify_detects_tampering(home: Path) -> None:
    ok = invoke(home, "audit", "--verify", "--json")
    assert ok.exit_code == 0
    report = json.loads(ok.stdout)
    assert report["verify"]["ok"] and report["verify"]["entries"] >= 8
    engine = sa.create_engine(f"sqlite:///{home / 'steady.db'}")
    with engine.begin() as conn:
        conn.execute(tables.audit_log.update().where(tables.audit_log.c.seq == 3)
                     .values(actor="mallory"))
    engine.dispose()
    broken = invoke(home, "audit", "--verify")
    assert broken.exit_code == 1
    assert "entry 3" in broken.stderr and "altered" in broken.stderr


@pytest.mark.parametrize("args,needle", [
    (["models", "show", "ghost"], "not registered"),
    (["models", "show", "cancer:9"], "no version 9"),
    (["models", "show", "bad ref!"], "NAME:VERSION"),
    (["models", "alias", "cancer:1", "no spaces"], "Invalid alias"),
    (["lineage", "cancer@prod"], "no alias 'prod'"),
    (["runs", "show", "f" * 32], "does not exist"),
    (["runs", "list", "--filter", "metrics.acc >"], "Incomplete filter"),
    (["runs", "list", "--experiment", "nope"], "does not exist"),
])
def test_errors_go_to_stderr_with_exit_1(home: Path, args: list[str], needle: str) -> None:
    result = invoke(home, *args)
    assert result.exit_code == 1
    assert needle in result.stderr and result.stdout == ""
    assert "Traceback" not in result.output


def test_unreachable_store_is_a_clear_error(tmp_path: Path) -> None:
    from services import free_port

    url = f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/db?connect_timeout=2"
    result = CliRunner().invoke(app, ["--home", str(tmp_path), "--db-url", url,
                                      "models", "list"])
    assert result.exit_code == 1
    assert "Cannot reach the metadata store" in result.stderr


def test_help_lists_commands() -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("runs", "models", "lineage", "audit", "demo"):
        assert command in result.stdout


def test_command_modules_names_the_module_of_every_command() -> None:
    """`steady X` imports only COMMAND_MODULES[X]: each must be where X is registered."""
    from steadyml.cli.app import COMMAND_MODULES, command_of

    registered: dict[str, set[str]] = {}
    for command in app.registered_commands:
        name = command.name or command.callback.__name__.replace("_", "-")
        registered.setdefault(name, set()).add(command.callback.__module__)
    for group in app.registered_groups:
        modules: set[str] = set()
        pending = [group.typer_instance]
        while pending:
            sub = pending.pop()
            modules |= {c.callback.__module__ for c in sub.registered_commands}
            pending += [g.typer_instance for g in sub.registered_groups]
        registered.setdefault(group.name, set()).update(modules)
    expected = {name: {f"steadyml.cli.{m}" for m in mods}
                for name, mods in COMMAND_MODULES.items()}
    assert set(expected) == set(registered)
    for name, modules in registered.items():
        assert modules <= expected[name], name
    assert command_of(["--home", "h", "pipeline", "run"]) == "pipeline"
    assert command_of(["--db-url", "x", "--help"]) is None


def test_the_console_script_runs_a_command_without_importing_the_others(
        tmp_path: Path) -> None:
    code = ("import sys; sys.argv = ['steady', '--home', sys.argv[1], 'pipeline', 'list'];"
            "from steadyml.cli import main\ntry:\n    main()\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in sys.modules if m.startswith('steadyml.cli.')))")
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "home")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    loaded = done.stdout.strip().splitlines()[-1]
    assert "steadyml.cli.pipelines" in loaded and "steadyml.cli.demo" not in loaded
    assert "steadyml.cli.monitoring" not in loaded
