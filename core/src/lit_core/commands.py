"""The ``lit`` console script: ``lit plugins`` lists what is installed and whether it can run.

(It lived in ``lit_core.cli`` until that name became Lightning's ``cli`` namespace.)
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from . import new_plugin, registry, roles


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


def _table(rows: list[dict[str, Any]]) -> str:
    headers = ["kind", "name", "distribution", "version", "roles", "available", "hooks"]
    cells = [
        [r["kind"], r["name"], r["distribution"], r["version"], ",".join(r["roles"]) or "-",
         "yes" if r["available"] else f"no: {r['reason']}", ", ".join(h.removeprefix("lit_") for h in r["hooks"]) or "-"]
        for r in rows
    ]
    widths = [max(len(str(c[i])) for c in [headers, *cells]) for i in range(len(headers) - 1)]
    lines = []
    for row in [headers, *cells]:
        lines.append("  ".join(str(c).ljust(w) for c, w in zip(row, widths)) + "  " + row[-1])
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``lit`` command."""
    parser = argparse.ArgumentParser(prog="lit", description="lit: Lightning-style training on a plugin kernel.")
    sub = parser.add_subparsers(dest="command", required=True)
    plugins = sub.add_parser("plugins", help="list installed plugins: kind, name, distribution, version, default roles, availability, hooks")
    plugins.add_argument("--json", action="store_true", help="print JSON instead of a table")
    new_plugin.add_parser(sub)
    args = parser.parse_args(argv)
    if args.command == "new-plugin":
        return new_plugin.main(args)
    if args.command == "plugins":
        rows = describe_plugins()
        print(json.dumps(rows, indent=2) if args.json else _table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
