"""The host's ``meshroom:adapter/host`` interface (log, secret), reached
through the bindings componentize-py generates. Nothing else in the SDK
imports ``wit_world`` for the host.
"""

try:
    from wit_world.imports import host as _wit_host
except ImportError:  # outside a component (linting, docs): no host at all
    _wit_host = None

_LEVELS = ("trace", "debug", "info", "warn", "error")


def log(level: str, message: str) -> None:
    """Writes one line to the host's log (never pass a secret)."""
    if _wit_host is None:
        return
    name = level.upper() if level in _LEVELS else "INFO"
    _wit_host.log(getattr(_wit_host.LogLevel, name), str(message))


def secret(name: str):
    """A secret of the current instance or plug, or None when unset."""
    if _wit_host is None:
        return None
    return _wit_host.secret(str(name))
