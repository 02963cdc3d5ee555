"""The ``lit`` console script: ``lit plugins`` lists what is installed and whether it can run;
``lit plugins --check`` finds what is wrong with it (``lit_core.plugin_check``); ``lit fit --config
x.yaml`` (and ``validate`` / ``test`` / ``predict``) runs ``LightningCLI`` from ``lit_core.cli``,
resolved when such a subcommand is asked for, so that ``lit plugins`` never imports it.

(It lived in ``lit_core.cli`` until that name became Lightning's ``cli`` namespace.)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import textwrap
from typing import Any

from . import cli, new_plugin, plugin_check, registry, roles


def describe_plugins() -> list[dict[str, Any]]:
    """One row per installed plugin: kind, name, distribution, version, roles, hooks, availability, conflict.

    ``roles``: the default roles its distribution declares for it (``lit_core.roles``), e.g.
    ``default_logger``; which claim wins when several do is in ``docs/plugins.rst``.

    Each plugin's module is imported to list its hooks and ask whether it can run here; an
    import failure is reported in the row rather than raised. A name that several distributions
    register gets one row per distribution, each listing the others under ``conflict`` and
    unavailable by that name (``Trainer`` refuses to pick one).
    """
    pm = registry.PluginManager()
    rows = []
    for kind in registry.GROUPS:
        for _, first in sorted(registry.installed(kind).items()):
            claimants = (first, *first.rivals)
            for entry in claimants:
                others = [c.distribution for c in claimants if c is not entry]
                rows.append(_describe(pm, entry, others))
    return rows


def _describe(pm: registry.PluginManager, entry: registry.PluginEntry, conflict: list[str]) -> dict[str, Any]:
    row: dict[str, Any] = {
        "kind": entry.kind,
        "name": entry.name,
        "distribution": entry.distribution,
        "version": entry.version,
        "roles": roles.of_plugin(entry.kind, entry.name, entry.distribution),
        "hooks": [],
        "available": False,
        "reason": "",
        "conflict": conflict,
    }
    try:
        obj = entry.import_object()
        reason = obj.unavailable_reason() if hasattr(obj, "unavailable_reason") else None
        row["hooks"] = _hooks_of(pm, obj)
        row["available"] = reason is None and not conflict
        row["reason"] = reason or ""
    except Exception as exc:  # a broken plugin is a row, not a crash
        row["reason"] = f"{type(exc).__name__}: {exc}"
    if conflict:
        row["reason"] = "; ".join(filter(None, [f"conflict: {entry.name!r} is also registered by {', '.join(conflict)}",
                                                row["reason"]]))
    return row


def _hooks_of(pm: registry.PluginManager, obj: Any) -> list[str]:
    return sorted(name for name in dir(obj) if name.startswith("lit_") and pm.parse_hookimpl_opts(obj, name) is not None)


#: The width ``lit plugins`` keeps to: a terminal's, and a CI log's.
WIDTH = 100


def _table(rows: list[dict[str, Any]]) -> str:
    """One line per plugin (kind, name, distribution, version, available), then its roles, why it is not
    available and its hooks on indented lines: every line fits ``WIDTH`` columns."""
    headers = ["kind", "name", "distribution", "version", "available"]
    cells = [[r["kind"], r["name"], r["distribution"], r["version"], "yes" if r["available"] else "no"] for r in rows]
    widths = [max(len(str(c[i])) for c in [headers, *cells]) for i in range(len(headers) - 1)]
    lines = []
    for row, cell in zip([None, *rows], [headers, *cells]):
        lines += _wrap("  ".join(str(c).ljust(w) for c, w in zip(cell, widths)) + "  " + cell[-1], "    ")
        if row is None:
            continue
        for label, text in (("roles", ", ".join(row["roles"])), ("why not", "" if row["available"] else row["reason"]),
                            ("hooks", ", ".join(h.removeprefix("lit_") for h in row["hooks"]))):
            if text:
                lines += _wrap(f"    {label}: {text}", " " * (6 + len(label)))
    return "\n".join(lines)


def _wrap(text: str, indent: str) -> list[str]:
    return textwrap.wrap(text, WIDTH, subsequent_indent=indent, break_on_hyphens=False, break_long_words=False) or [""]


def _report(problems: list[plugin_check.Problem], checked: int) -> str:
    """``lit plugins --check``'s text: each problem under its plugin's heading, then a summary line."""
    by_plugin: dict[tuple[str, ...], list[plugin_check.Problem]] = {}
    for problem in problems:
        by_plugin.setdefault((problem.distribution, problem.version, problem.kind, problem.name, problem.plugin), []).append(problem)
    lines: list[str] = []
    for (dist, version, kind, name, value), found in by_plugin.items():
        lines += _wrap(f"{dist} {version}".strip() + f": {kind} {name!r} ({value})", "    ")
        for problem in found:
            lines += _wrap(f"  - {problem.message}", "    ")
    count = f"{len(problems)} problem{'s' * (len(problems) != 1)} in {len(by_plugin)} of {checked} plugins"
    lines.append(f"lit plugins --check: {count}." if problems else f"lit plugins --check: {checked} plugins, no problems.")
    return "\n".join(lines)


_CHECK_HELP = (
    "check every installed plugin and exit with status 1 on a problem: an entry point that cannot be "
    "imported, built by name or is not of its kind; a name two distributions register for one kind; two "
    "callbacks that save their state under one state_key; a "
    "lit_* method without @lit.hookimpl, or with another pluggy project's marker; a hook name or "
    "specname= that is no lit hook; arguments that do not fit the hookspec; trylast on a firstresult "
    "hook that the kernel's default always answers; a callback on_* method that is no Callback hook; "
    "unavailable_reason() that is not a classmethod or raises. Each problem names the distribution, "
    "the plugin and the fix."
)


#: ``lit <subcommand> ...``: handed whole to ``lit_core.cli.LightningCLI``.
CLI_SUBCOMMANDS = ("fit", "validate", "test", "predict")


def run_cli(argv: list[str]) -> int:
    """``lit fit --config x.yaml``: a LightningCLI with any model and datamodule (``model.class_path``)."""
    try:
        lightning_cli = cli.LightningCLI
    except ImportError as exc:  # the message names the distribution to install
        sys.stderr.write(f"lit {argv[0]}: {exc}\n")
        return 2
    lightning_cli(args=argv, parser_kwargs={"prog": "lit"})
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``lit`` command."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in CLI_SUBCOMMANDS:
        return run_cli(argv)
    parser = argparse.ArgumentParser(prog="lit", description="lit: Lightning-style training on a plugin kernel.")
    sub = parser.add_subparsers(dest="command", required=True)
    plugins = sub.add_parser("plugins", formatter_class=argparse.RawDescriptionHelpFormatter,
                             help="list installed plugins: kind, name, distribution, version, default roles, availability, hooks",
                             description="List the installed plugins (kind, name, distribution, version, availability,\n"
                                         "default roles, hooks), or check them with --check.")
    plugins.add_argument("--json", action="store_true",
                         help="print JSON: the list of plugins; with --check one object, {\"plugins\": [...], \"problems\": [...]}")
    plugins.add_argument("--check", action="store_true", help=_CHECK_HELP)
    new_plugin.add_parser(sub)
    for name in CLI_SUBCOMMANDS:  # listed in `lit --help`; run_cli parses them
        sub.add_parser(name, help=f"LightningCLI's {name}: lit {name} --config config.yaml (model.class_path runs)")
    args = parser.parse_args(argv)
    if args.command == "new-plugin":
        return new_plugin.main(args)
    status = 0
    rows = describe_plugins()
    if args.check:
        problems = plugin_check.check_installed()
        status = 1 if problems else 0
        if args.json:
            text = json.dumps({"plugins": rows, "problems": [p.as_dict() for p in problems]}, indent=2)
        else:
            text = _report(problems, len(rows))
    else:
        text = json.dumps(rows, indent=2) if args.json else _table(rows)
    return _print(text, status)


def _print(text: str, status: int) -> int:
    """Print ``text``; a reader that stops early (``lit plugins | head -1``) is no error: ``status`` stands."""
    try:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        # Python flushes stdout again at exit and would print a second traceback: point it at devnull.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return status


if __name__ == "__main__":
    sys.exit(main())
