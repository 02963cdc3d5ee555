"""The pluggy markers for lit: ``@lit.hookspec`` declares a hook, ``@lit.hookimpl`` implements one."""

import pluggy

PROJECT = "lit"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)
