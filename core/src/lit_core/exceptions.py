"""Errors lit raises for user mistakes. Each message says what was wrong and how to fix it."""


class MisconfigurationException(Exception):
    """A Trainer flag, a plugin choice or user code is set up in a way lit cannot run."""


class PluginError(MisconfigurationException):
    """A plugin is unknown, cannot be imported, or does not fit the hook specifications."""
