"""Default roles: which installed plugin fills a gap the user left open.

The kernel knows no plugin by name. A distribution declares, in its own metadata, the roles
it fills by default: an entry in the ``lit.roles`` group whose name is the role and whose value
is one of its plugin names in the role's kind (never imported as a module)::

    [project.entry-points."lit.roles"]
    default_logger = "tensorboard"

Precedence, when a ``Trainer`` asks for a role (``docs/plugins.rst``, "Default roles"):

1. An explicit flag always wins (``logger=``, ``callbacks=``, ``strategy=``, ``accelerator=``,
   ``enable_model_summary=False``), and so does a plugin of the role's kind given in
   ``plugins=[...]`` (for the model summary: any plugin answering ``lit_print_model_summary``).
2. A claim is skipped when its plugin is not installed (no entry of that name in the kind's
   group), when ``disable_plugins`` names it, and, with ``LIT_DISABLE_PLUGIN_AUTOLOAD=1``,
   when it comes from a distribution other than lit-core.
3. Claims of other distributions come before lit-core's own: lit-core's are the fallbacks
   (its ``csv`` logger), declared exactly like a third party's.
4. Among several other distributions the order is by distribution name, then plugin name, and
   lit warns once that it picked one (there are no priority numbers to escalate: the user
   settles it with the flag or ``disable_plugins``).

Reading roles reads metadata only; nothing is imported until the chosen plugin is loaded.

A *service* role (kind ``"service"``) is filled by an object rather than a plugin: its value is
the object's reference, ``module`` or ``module:attribute`` as in any entry point, imported by
``service()`` the first time user code needs it (``lightning_1x_flags``: a Lightning 1.x flag or
argparse helper). Rules 3 and 4 apply; rule 2 does not, since only the user's own call asks for it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from importlib import metadata
from typing import Any

from . import first_party, registry
from .exceptions import PluginError
from .rank_zero import rank_zero_warn

#: The entry-point group where distributions declare roles.
GROUP = registry.ROLES_GROUP

#: lit-core's own distribution name: its claims are the fallbacks.
CORE = "lit-core"


@dataclass(frozen=True)
class Role:
    """A gap the ``Trainer`` fills with an installed plugin of ``kind`` when the user names none."""

    kind: str
    what: str


#: role -> what it is. The role names are the entry names a distribution uses in ``lit.roles``.
ROLES: dict[str, Role] = {
    "default_logger": Role("logger", "the logger of Trainer(logger=None or True)"),
    "default_progress_bar": Role("callback", "the progress bar added unless enable_progress_bar=False"),
    "default_checkpointing": Role("callback", "the checkpoint callback added unless enable_checkpointing=False"),
    "default_model_summary": Role(
        "callback", "the summary printed when fit starts unless enable_model_summary=False (made with max_depth=)"),
    "multi_device_strategy": Role(
        "strategy", "strategy='auto' with several devices or nodes, for an accelerator whose multi_device_strategy is None"),
    "gpus_accelerator": Role("accelerator", "the accelerator of Lightning 1.x's Trainer(gpus=N)"),
    "tpu_cores_accelerator": Role("accelerator", "the accelerator of Lightning 1.x's Trainer(tpu_cores=N)"),
    "lightning_1x_flags": Role("service", "Lightning 1.x's Trainer flags and argparse helpers (lit_core.lightning_1x)"),
}

#: The kind of a role filled by an object (its claim's value is an object reference), not by a plugin.
SERVICE = "service"

#: Lightning's ``precision=`` spellings for precision plugins of other distributions, as roles
#: ``precision_<spelling>``: ``precision=16`` (or ``"16"``) is the plugin that fills ``precision_16``.
#: (lit-core's own spellings, ``32`` and ``64``, are ``lit_core.selection.CORE_PRECISION_SPELLINGS``.)
ROLES.update({
    "precision_16": Role("precision", "Lightning's precision=16 or '16'"),
    "precision_bf16": Role("precision", "Lightning's precision='bf16'"),
})


def of_plugin(kind: str, name: str, distribution: str) -> list[str]:
    """The roles ``distribution`` declares for its ``kind`` plugin ``name`` (for ``lit plugins``)."""
    return sorted(c.role for c in registry.role_claims()
                  if c.name == name and c.distribution == distribution and c.role in ROLES and ROLES[c.role].kind == kind)


def claims(role: str, disabled: Iterable[str] = (), explicit: bool = False) -> list[registry.RoleClaim]:
    """The usable claims on ``role``, best first (rules 2 to 4 of the module docstring).

    ``explicit``: the user named the role (a ``precision=16`` spelling), so, as for any name given
    explicitly, ``LIT_DISABLE_PLUGIN_AUTOLOAD`` does not narrow the claims to lit-core's.
    """
    kind = ROLES[role].kind
    usable = [c for c in registry.role_claims() if c.role == role]
    if kind != SERVICE:  # a service has nothing to be installed besides the claiming distribution, nothing to disable
        installed, blocked = registry.installed(kind), set(disabled)
        core_only = registry.autoload_disabled() and not explicit
        usable = [c for c in usable if c.name in installed and c.name not in blocked and not (core_only and c.distribution != CORE)]
    return sorted(usable, key=lambda c: (c.distribution == CORE, c.distribution, c.name))


#: Roles ``fill`` has warned about once per process already.
_WARNED: set[tuple[str, tuple[str, ...]]] = set()


def fill(role: str, disabled: Iterable[str] = (), explicit: bool = False) -> str | None:
    """The plugin name that fills ``role``, or ``None`` when no installed distribution claims it (``explicit``: see ``claims``)."""
    usable = claims(role, disabled, explicit)
    if not usable:
        return None
    others = sorted({c.distribution for c in usable if c.distribution != CORE})
    if len(others) > 1 and (role, tuple(others)) not in _WARNED:
        _WARNED.add((role, tuple(others)))
        chosen = usable[0]
        listing = ", ".join(f"{c.name!r} ({c.distribution})" for c in usable if c.distribution != CORE)
        how = ("Uninstall all but one of them." if ROLES[role].kind == SERVICE else f"Choose with the {ROLES[role].kind} "
               "flag or plugins=[...], or leave one out with disable_plugins=[...].")
        rank_zero_warn(
            f"Several distributions declare the {role} role: {listing}. lit uses {chosen.name!r} from "
            f"{chosen.distribution} (the first by distribution name). {how}",
            stacklevel=4,
        )
    return usable[0].name


def require(role: str, needed_by: str, disabled: Iterable[str] = ()) -> str:
    """``fill(role)``, or a ``PluginError`` saying that ``needed_by`` (a flag) needs it and how to get it."""
    name = fill(role, disabled)
    if name is not None:
        return name
    kind = ROLES[role].kind
    installed = ", ".join(sorted(registry.installed(kind))) or "none"
    blocked = sorted(c.name for c in claims(role) if c.name in set(disabled))
    dist = first_party.provider(GROUP, role)
    if blocked:
        fix = (f"needs the {kind} declared for the {role!r} role, and disable_plugins blocks it "
               f"({', '.join(map(repr, blocked))}): remove it from disable_plugins")
    elif dist is not None:
        fix = f"needs the {dist} plugin, which is not installed: `pip install {dist}`"
    else:
        fix = (f"needs a {kind} that an installed distribution declares for the {role!r} role, and none does: "
               "install one (docs/plugins.rst, 'Default roles')")
    raise PluginError(f"{needed_by} {fix}, or pass {kind}= explicitly. Installed {kind} plugins: {installed}.")


def service(role: str) -> Any | None:
    """The object that fills the service ``role``, imported now, or ``None`` when no installed distribution claims it."""
    reference = fill(role)
    if reference is None:
        return None
    claim = next(c for c in claims(role) if c.name == reference)
    try:
        return metadata.EntryPoint(role, reference, GROUP).load()
    except Exception as exc:
        raise PluginError(
            f"The {role} role of {claim.distribution} ({reference}) failed to import: {type(exc).__name__}: {exc}. "
            f"Reinstall or upgrade {claim.distribution}."
        ) from exc


def model_summary(max_depth: int = 1, disabled: Iterable[str] = ()) -> Any | None:
    """The callback that fills ``default_model_summary``, made with ``max_depth``; ``None`` when none is installed.

    The role's callback prints the table from ``on_fit_start(trainer, pl_module)``, as Lightning's
    ``ModelSummary`` callback does: the kernel calls that when ``lit_print_model_summary`` is left
    to it (``lit_core/builtins/defaults.py``), so lit-core alone prints no summary.
    """
    name = fill("default_model_summary", disabled)
    return None if name is None else registry.load("callback", name)(max_depth=max_depth)
