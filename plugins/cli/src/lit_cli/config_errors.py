"""Where a bad value came from: the flag, the type expected, and the ``--config`` file and line.

jsonargparse's messages name the key (``Parser key "trainer.max_epochs": ...``) but not the
file it was read from; with several ``--config`` files merged, the user has to guess. ``explain``
puts one line first that says which flag, what type it expects, what it got and where: the last
config file (in command-line order) that sets the key, at the line, unless the command line sets
it after them. jsonargparse's own details follow.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Iterable
from typing import Any

_KEY = re.compile(r'Parser key "([^"]+)"')
_UNKNOWN = re.compile(r"(?:does not accept option|Key) '?\"?([\w.]+)'?\"?(?: is not expected)?")
_UNRECOGNIZED = re.compile(r"unrecognized arguments: (--[\w.]+)")
_GIVEN = re.compile(r"(?:^\s*Given value|Got value): (.*)$", re.M)
_SUBTYPES = re.compile(r"^\s*Subtypes: \[(.*)\]$", re.M)
_EXPECTED = re.compile(r"Expected a (.+?)(?:\.|$)", re.M)
_CONFIG_FLAGS = ("--config", "-c")


def explain(message: str, args: list[str], options: Iterable[str] = ()) -> str:
    """``message`` with a first line naming the flag, the expected type and the file and line it came from.

    ``options``: the flags the parser knows, for a "did you mean" on an unknown one.
    """
    match = _KEY.search(message)
    if match is not None:
        key = match.group(1)
        expected = _expected(message)
        given = _GIVEN.search(message)
        got = f"; got {given.group(1).strip()!r}" if given else ""
        return f"--{key} expects {expected}{got} ({where(key, args)}).\n{message}"
    match = _UNRECOGNIZED.search(message) or _UNKNOWN.search(message)
    if match is not None:
        flag = "--" + match.group(1).removeprefix("--").partition("=")[0]
        close = difflib.get_close_matches(flag, sorted(set(options)), n=3)
        hint = f" Did you mean {' or '.join(close)}?" if close else ""
        return (f"{flag} is not an option here ({where(flag[2:], args)}).{hint} `--help` lists the options, "
                f"`--print_config` the full config.\n{message}")
    return message


def where(key: str, args: list[str]) -> str:
    """``"from x.yaml, line 3"`` for the config file and line that set ``key`` last, else ``"from the command line"``."""
    found = "from the command line"
    flag = f"--{key}"
    for index, arg in enumerate(args):
        if arg == flag or arg.startswith(flag + "=") or arg.startswith(flag + "+="):
            found = "from the command line"
        for path in _config_paths(args, index):
            line = _line_of(path, key)
            if line is not None:
                found = f"from {path}, line {line}"
    return found


def _config_paths(args: list[str], index: int) -> list[str]:
    """The config file named by ``args[index]`` (``--config x.yaml`` or ``--config=x.yaml``), if it is one."""
    arg = args[index]
    if arg in _CONFIG_FLAGS and index + 1 < len(args):
        value = args[index + 1]
    elif arg.startswith("--config="):
        value = arg.partition("=")[2]
    else:
        return []
    return [value] if os.path.isfile(value) else []


def _line_of(path: str, key: str) -> int | None:
    """The 1-based line of ``key`` (dotted; ``fit.`` prefixes tried too) in the YAML file at ``path``."""
    import yaml

    try:
        with open(path) as f:
            root = yaml.compose(f)
    except (OSError, yaml.YAMLError):
        return None
    parts = key.split(".")
    # A root-level config nests the key under its subcommand: fit: {trainer: ...}.
    return _walk(root, parts) or _walk_any_prefix(root, parts)


def _walk(node: Any, parts: list[str]) -> int | None:
    import yaml

    line = None
    for part in parts:
        if not isinstance(node, yaml.MappingNode):
            return None
        for k, v in node.value:
            if k.value == part:
                line, node = k.start_mark.line + 1, v
                break
        else:
            return None
    return line


def _walk_any_prefix(root: Any, parts: list[str]) -> int | None:
    """``key`` under one top-level mapping (the subcommand's) when the config is the root parser's."""
    import yaml

    if isinstance(root, yaml.MappingNode):
        for _, value in root.value:
            line = _walk(value, parts)
            if line is not None:
                return line
    return None


def _expected(message: str) -> str:
    subtypes = _SUBTYPES.search(message)
    text = subtypes.group(1) if subtypes else (_EXPECTED.search(message).group(1) if _EXPECTED.search(message) else "")
    text = re.sub(r"<class '(?:builtins\.)?([\w.]+)'>", r"\1", text).replace("typing.", "")
    return " | ".join(t.replace("NoneType", "None") for t in _top_level_items(text)) or "another type"


def _top_level_items(text: str) -> list[str]:
    """``"int, list[Union[a, b]]"`` -> ``["int", "list[Union[a, b]]"]``."""
    items, depth, current = [], 0, ""
    for char in text:
        depth += (char == "[") - (char == "]")
        if char == "," and depth == 0:
            items.append(current.strip())
            current = ""
        else:
            current += char
    return [item for item in [*items, current.strip()] if item]
