"""``meshroom.interaction`` of the original: messages for the operator,
here written to the host's log (tagged with the product and the hook).

Prompting is impossible inside the sandbox: ``prompt`` and
``prompt_password`` raise an error saying where to set the value instead.
"""

from meshroom import _host


def _join(message, rest) -> str:
    text = str(message)
    for r in rest:
        text += f" {r}"
    return text


def info(message, *rest) -> None:
    """Informational message."""
    _host.log("info", _join(message, rest))


def debug(message, *rest) -> None:
    """Debug message."""
    _host.log("debug", _join(message, rest))


def warning(message, *rest) -> None:
    """Warning message."""
    _host.log("warn", _join(message, rest))


def error(message, *rest, debug: bool = False) -> None:
    """Error message (an exception is shown by its text)."""
    _host.log("error", _join(message, rest))


def log(message, *rest, file=None) -> None:
    """Plain message."""
    _host.log("info", _join(message, rest))


def box(*lines: str, block: bool = False) -> None:
    """The original draws a box on the console; here each line is logged."""
    for line in lines:
        for part in str(line).split("\n"):
            _host.log("info", part)


def prompt(prompt: str):
    """Hooks cannot prompt inside the sandbox."""
    raise RuntimeError(
        f"a hook cannot prompt for input inside the sandbox ({prompt!r}): "
        "put the value in the instance's or the plug's settings instead"
    )


def prompt_password(prompt: str):
    """Hooks cannot prompt inside the sandbox."""
    raise RuntimeError(
        f"a hook cannot prompt for a secret inside the sandbox ({prompt!r}): "
        "set it as a secret setting of the instance instead"
    )
