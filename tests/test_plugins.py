"""Plugin loading: built-ins through the public API, entry points, disabling, failures by name."""

from __future__ import annotations

import ast
import inspect
import json
import subprocess
import sys
from pathlib import Path

import pytest

from outreach.kernel import hookimpl, hookspecs
from outreach.kernel.errors import DuplicateRegistration, PluginError
from outreach.kernel.plugins import DEFAULT_PLUGINS, build_plugin_host

ROOT = Path(__file__).resolve().parents[1]


def test_builtins_register_what_they_provide(settings) -> None:
    host = build_plugin_host(settings, load_entry_points=False)
    names = {info.name: info for info in host.plugins()}
    assert {"csv_import", "outbox"} <= set(names)
    assert names["csv_import"].registered == {"discovery source": ["csv"]}
    assert names["outbox"].registered == {"sender": ["outbox"]}
    assert names["outbox"].origin == "builtin"
    assert host.failures == []


def test_disabled_plugins_are_not_loaded(make_settings) -> None:
    host = build_plugin_host(make_settings(disabled=["csv_import"]), load_entry_points=False)
    assert "csv" not in host.discovery_sources
    assert "csv_import" not in {info.name for info in host.plugins()}
    assert "outbox" in host.senders


def test_a_plugin_that_fails_to_import_is_reported_by_name(settings) -> None:
    host = build_plugin_host(
        settings, load_entry_points=False, builtins=(*DEFAULT_PLUGINS, "outreach.plugins.no_such_plugin")
    )
    assert [f.name for f in host.failures] == ["no_such_plugin"]
    assert "could not be imported" in host.failures[0].error
    assert "outbox" in host.senders  # the others still work


def test_a_misspelled_hook_is_a_clear_error_naming_the_plugin(settings) -> None:
    class Typo:
        @hookimpl
        def regster_senders(self, register) -> None:
            raise AssertionError("never called")

    host = build_plugin_host(settings, load_entry_points=False, extra=[("typo", Typo())])
    (failure,) = host.failures
    assert failure.name == "typo"
    assert "'regster_senders'" in failure.error
    assert "did you mean 'register_senders'" in failure.error
    assert "typo" not in {info.name for info in host.plugins()}


def test_wrong_hook_arguments_are_reported(settings) -> None:
    class WrongArgs:
        @hookimpl
        def register_senders(self, register, colour) -> None:
            raise AssertionError("never called")

    host = build_plugin_host(settings, load_entry_points=False, extra=[("wrong", WrongArgs())])
    assert [f.name for f in host.failures] == ["wrong"]


def test_a_plugin_that_breaks_while_registering_does_not_take_the_others_down(settings) -> None:
    class Exploding:
        @hookimpl
        def register_senders(self, register) -> None:
            raise RuntimeError("boom")

    host = build_plugin_host(settings, load_entry_points=False, extra=[("exploding", Exploding())])
    assert host.failures[0].name == "exploding"
    assert "boom" in host.failures[0].error
    assert "outbox" in host.senders


def test_duplicate_names_are_refused(settings) -> None:
    class Outbox2:
        name = "outbox"

        async def send(self, message):
            raise AssertionError

    class Dup:
        @hookimpl
        def register_senders(self, register) -> None:
            register(Outbox2())

    host = build_plugin_host(settings, load_entry_points=False, extra=[("dup", Dup())])
    assert "registered by both" in host.failures[0].error
    with pytest.raises(DuplicateRegistration):
        host.senders.add(Outbox2(), "again")


def test_objects_without_the_protocol_methods_are_refused(settings) -> None:
    class NotASender:
        name = "fake"

    host = build_plugin_host(settings, load_entry_points=False)
    with pytest.raises(PluginError, match="lacks the methods"):
        host.senders.add(NotASender(), "fake_plugin")


def test_unknown_name_lists_the_choices(settings) -> None:
    host = build_plugin_host(settings, load_entry_points=False)
    with pytest.raises(PluginError, match=r"No sender named 'smtpp' is installed \(available: .*outbox"):
        host.senders.get("smtpp")


def test_third_party_entry_point_plugin_is_loaded(settings) -> None:
    host = build_plugin_host(settings)
    infos = {info.name: info for info in host.plugins()}
    assert infos["example"].origin == "entry point"
    assert infos["example"].version == "1.2.3"
    assert infos["example"].registered == {"sender": ["example"]}
    assert host.senders.owner("example") == "example"


def test_third_party_plugin_can_be_disabled(make_settings) -> None:
    host = build_plugin_host(make_settings(disabled=["example"]))
    assert "example" not in host.senders


def test_outreach_plugins_cli_lists_the_installed_package(tmp_path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "outreach.web.cli", "--data-dir", str(tmp_path), "plugins", "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    data = json.loads(result.stdout)
    example = next(p for p in data["plugins"] if p["name"] == "example")
    assert example["version"] == "1.2.3"
    assert example["hooks"] == ["register_commands", "register_config_tables", "register_senders"]


def test_a_plugin_command_runs_from_the_cli(tmp_path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "outreach.web.cli", "--data-dir", str(tmp_path), "example-ping"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == "pong from the example plugin"
    disabled = tmp_path / "outreach.toml"
    disabled.write_text('disabled = ["example"]\n')
    refused = subprocess.run(
        [sys.executable, "-m", "outreach.web.cli", "--config", str(disabled), "example-ping"],
        capture_output=True,
        text=True,
    )
    assert refused.returncode != 0
    assert "No such command" in refused.stderr


# -- the boundary: built-ins use only what a third party could -----------------------------

PUBLIC_MODULES = {"outreach.kernel"}


def _outreach_imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.ImportFrom)
            and node.level == 0
            and (node.module or "").startswith("outreach")
        ):
            found.append(node.module)
        elif isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names if alias.name.startswith("outreach"))
    return found


def test_builtin_plugins_import_only_the_public_kernel_api() -> None:
    offenders = {}
    for path in (ROOT / "plugins").rglob("*.py"):
        bad = [module for module in _outreach_imports(path) if module not in PUBLIC_MODULES]
        if bad:
            offenders[str(path.relative_to(ROOT))] = bad
    assert offenders == {}, "built-in plugins must import only `outreach.kernel`"


def test_kernel_imports_neither_web_nor_plugins() -> None:
    for path in (ROOT / "kernel").rglob("*.py"):
        for module in _outreach_imports(path):
            assert not module.startswith(("outreach.web", "outreach.plugins")), (path, module)


def test_every_hookspec_is_implemented_somewhere_and_exercised() -> None:
    """Each hook has an implementation in a built-in plugin or a test plugin (datasette's rule)."""
    specs = {n for n in dir(hookspecs) if hasattr(getattr(hookspecs, n), "outreach_spec")}
    implemented = set()
    for path in [*(ROOT / "plugins").rglob("*.py"), *(ROOT / "tests").rglob("*.py")]:
        if "build" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and any(
                getattr(d, "id", getattr(d, "attr", None)) == "hookimpl" for d in node.decorator_list
            ):
                implemented.add(node.name)
    assert specs <= implemented, f"hooks nobody implements: {sorted(specs - implemented)}"


def test_every_hookspec_is_documented() -> None:
    specs = [getattr(hookspecs, n) for n in dir(hookspecs) if hasattr(getattr(hookspecs, n), "outreach_spec")]
    assert len(specs) >= 9
    for spec in specs:
        doc = inspect.getdoc(spec) or ""
        assert "Called" in doc, f"{spec.__name__} does not say when it is called"
        assert ":return:" in doc, f"{spec.__name__} does not say what it returns"
        for parameter in inspect.signature(spec).parameters:
            assert f":param {parameter}:" in doc, f"{spec.__name__} does not document {parameter}"
