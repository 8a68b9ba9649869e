"""``meshroom.decorators`` of the original Meshroom 0.3.4: every decorator,
with the same arguments and the same defaults. A decorator registers the
function as a hook of the product (in a file at the product folder's root)
or of the integration whose file it sits in; ``meshroom build`` imports the
hook files once, and the component's ``describe`` lists what they declared.

A decorator used where the original refuses it raises the same kind of
error, at build time, with the file and line.
"""

from typing import Callable, Literal

from meshroom import _registry

HookOrder = Literal["first", "last"] | int
Mode = Literal["push", "pull"]
Role = Literal["producer", "consumer", "trigger", "executor"]

_ROLES = ("producer", "consumer", "trigger", "executor")
_MODES = ("push", "pull")


def _format_of(format, fields):
    """An integration's hook is scoped to the format its file names
    (`events_consumer_ecs.py`) unless the decorator gives one."""
    return format if format is not None else fields["format"]


def _check_order(name, order):
    if order is not None and order not in ("first", "last") and not (isinstance(order, int) and not isinstance(order, bool)):
        raise ValueError(f"{name}(): order must be \"first\", \"last\" or an integer, not {order!r}")


def _check_mode(name, mode):
    if mode is not None and mode not in _MODES:
        raise ValueError(f"{name}(): mode must be \"push\" or \"pull\", not {mode!r}")


def _product_level(name, func, what="is allowed only in a product's setup.py"):
    kind, fields, rel = _registry.file_of(func)
    if kind != "product":
        raise ValueError(f"{name}() decorator {what}")
    return rel


def _integration_or_product(name, func):
    kind, fields, rel = _registry.file_of(func)
    if kind == "integration":
        return fields, rel
    if kind != "product":
        raise ValueError(f"{name}() decorator can't be used outside of a Product's directory")
    return None, rel


def setup_consumer(
    topic: str | None = None,
    title: str | None = None,
    mode: Mode | None = None,
    format: str | None = None,
    keep_when_overloaded: bool = False,
    order: HookOrder | None = None,
    owns_both: bool = False,
):
    """Declares a generic consumer setup hook of the product where it resides
    (title: the given one, else the docstring, else the function's name)."""
    _check_order("setup_consumer", order)
    _check_mode("setup_consumer", mode)

    def decorator(func: Callable):
        rel = _product_level("setup_consumer", func)
        _registry.add(kind="setup", func=func, product=_registry.PRODUCT, role="consumer", topic=topic, mode=mode,
                      format=format, keep_when_overloaded=keep_when_overloaded, order=order, title=title,
                      owns_both=owns_both, file=rel)
        return func

    return decorator

def setup_executor(
    topic: str | None = None,
    title: str | None = None,
    mode: Mode | None = None,
    format: str | None = None,
    keep_when_overloaded: bool = False,
    order: HookOrder | None = None,
    owns_both: bool = False,
):
    """Declares a generic executor setup hook of the product where it resides
    (title: the given one, else the docstring, else the function's name)."""
    _check_order("setup_executor", order)
    _check_mode("setup_executor", mode)

    def decorator(func: Callable):
        rel = _product_level("setup_executor", func)
        _registry.add(kind="setup", func=func, product=_registry.PRODUCT, role="executor", topic=topic, mode=mode,
                      format=format, keep_when_overloaded=keep_when_overloaded, order=order, title=title,
                      owns_both=owns_both, file=rel)
        return func

    return decorator

def setup_producer(
    topic: str | None = None,
    title: str | None = None,
    mode: Mode | None = None,
    format: str | None = None,
    keep_when_overloaded: bool = False,
    order: HookOrder | None = None,
    owns_both: bool = False,
):
    """Declares a generic producer setup hook of the product where it resides
    (title: the given one, else the docstring, else the function's name)."""
    _check_order("setup_producer", order)
    _check_mode("setup_producer", mode)

    def decorator(func: Callable):
        rel = _product_level("setup_producer", func)
        _registry.add(kind="setup", func=func, product=_registry.PRODUCT, role="producer", topic=topic, mode=mode,
                      format=format, keep_when_overloaded=keep_when_overloaded, order=order, title=title,
                      owns_both=owns_both, file=rel)
        return func

    return decorator

def setup_trigger(
    topic: str | None = None,
    title: str | None = None,
    mode: Mode | None = None,
    format: str | None = None,
    keep_when_overloaded: bool = False,
    order: HookOrder | None = None,
    owns_both: bool = False,
):
    """Declares a generic trigger setup hook of the product where it resides
    (title: the given one, else the docstring, else the function's name)."""
    _check_order("setup_trigger", order)
    _check_mode("setup_trigger", mode)

    def decorator(func: Callable):
        rel = _product_level("setup_trigger", func)
        _registry.add(kind="setup", func=func, product=_registry.PRODUCT, role="trigger", topic=topic, mode=mode,
                      format=format, keep_when_overloaded=keep_when_overloaded, order=order, title=title,
                      owns_both=owns_both, file=rel)
        return func

    return decorator

def teardown_consumer(
    topic: str | None = None,
    title: str | None = None,
    mode: Mode | None = None,
    format: str | None = None,
    keep_when_overloaded: bool = False,
    order: HookOrder | None = None,
    owns_both: bool = False,
):
    """Declares a generic consumer teardown hook of the product where it resides
    (title: the given one, else the docstring, else the function's name)."""
    _check_order("teardown_consumer", order)
    _check_mode("teardown_consumer", mode)

    def decorator(func: Callable):
        rel = _product_level("teardown_consumer", func)
        _registry.add(kind="teardown", func=func, product=_registry.PRODUCT, role="consumer", topic=topic, mode=mode,
                      format=format, keep_when_overloaded=keep_when_overloaded, order=order, title=title,
                      owns_both=owns_both, file=rel)
        return func

    return decorator

def teardown_executor(
    topic: str | None = None,
    title: str | None = None,
    mode: Mode | None = None,
    format: str | None = None,
    keep_when_overloaded: bool = False,
    order: HookOrder | None = None,
    owns_both: bool = False,
):
    """Declares a generic executor teardown hook of the product where it resides
    (title: the given one, else the docstring, else the function's name)."""
    _check_order("teardown_executor", order)
    _check_mode("teardown_executor", mode)

    def decorator(func: Callable):
        rel = _product_level("teardown_executor", func)
        _registry.add(kind="teardown", func=func, product=_registry.PRODUCT, role="executor", topic=topic, mode=mode,
                      format=format, keep_when_overloaded=keep_when_overloaded, order=order, title=title,
                      owns_both=owns_both, file=rel)
        return func

    return decorator

def teardown_producer(
    topic: str | None = None,
    title: str | None = None,
    mode: Mode | None = None,
    format: str | None = None,
    keep_when_overloaded: bool = False,
    order: HookOrder | None = None,
    owns_both: bool = False,
):
    """Declares a generic producer teardown hook of the product where it resides
    (title: the given one, else the docstring, else the function's name)."""
    _check_order("teardown_producer", order)
    _check_mode("teardown_producer", mode)

    def decorator(func: Callable):
        rel = _product_level("teardown_producer", func)
        _registry.add(kind="teardown", func=func, product=_registry.PRODUCT, role="producer", topic=topic, mode=mode,
                      format=format, keep_when_overloaded=keep_when_overloaded, order=order, title=title,
                      owns_both=owns_both, file=rel)
        return func

    return decorator

def teardown_trigger(
    topic: str | None = None,
    title: str | None = None,
    mode: Mode | None = None,
    format: str | None = None,
    keep_when_overloaded: bool = False,
    order: HookOrder | None = None,
    owns_both: bool = False,
):
    """Declares a generic trigger teardown hook of the product where it resides
    (title: the given one, else the docstring, else the function's name)."""
    _check_order("teardown_trigger", order)
    _check_mode("teardown_trigger", mode)

    def decorator(func: Callable):
        rel = _product_level("teardown_trigger", func)
        _registry.add(kind="teardown", func=func, product=_registry.PRODUCT, role="trigger", topic=topic, mode=mode,
                      format=format, keep_when_overloaded=keep_when_overloaded, order=order, title=title,
                      owns_both=owns_both, file=rel)
        return func

    return decorator

def watch(topic: str, mode: Mode | None = None, format: str | None = None):
    """Declares a watch hook: in an integration's file, for that
    integration; elsewhere in the product folder, for the product."""
    _check_mode("watch", mode)

    def decorator(func: Callable):
        fields, rel = _integration_or_product("watch", func)
        if fields is not None:
            if fields["role"] != "consumer":
                raise ValueError("watch() decorator can only be used in a consumer Integration")
            _registry.add(kind="watch", func=func, product=fields["product"], target_product=fields["target_product"],
                          role=fields["role"], topic=fields["topic"], mode=fields["mode"], format=_format_of(format, fields),
                          keep_when_overloaded=True, file=rel)
        else:
            _registry.add(kind="watch", func=func, product=_registry.PRODUCT, role="consumer", topic=topic, mode=mode,
                          format=format, keep_when_overloaded=True, file=rel)
        return func

    return decorator

def produce(topic: str, mode: Mode | None = None, format: str | None = None):
    """Declares a produce hook: in an integration's file, for that
    integration; elsewhere in the product folder, for the product."""
    _check_mode("produce", mode)

    def decorator(func: Callable):
        fields, rel = _integration_or_product("produce", func)
        if fields is not None:
            if fields["role"] != "producer":
                raise ValueError("produce() decorator can only be used in a producer Integration")
            _registry.add(kind="produce", func=func, product=fields["product"], target_product=fields["target_product"],
                          role=fields["role"], topic=fields["topic"], mode=fields["mode"], format=_format_of(format, fields),
                          keep_when_overloaded=True, file=rel)
        else:
            _registry.add(kind="produce", func=func, product=_registry.PRODUCT, role="consumer", topic=topic, mode=mode,
                          format=format, keep_when_overloaded=True, file=rel)
        return func

    return decorator

def trigger(topic: str | None = None, mode: Mode | None = None, format: str | None = None):
    """Declares a trigger hook: in an integration's file, for that
    integration; elsewhere in the product folder, for the product."""
    _check_mode("trigger", mode)

    def decorator(func: Callable):
        fields, rel = _integration_or_product("trigger", func)
        if fields is not None:
            if fields["role"] != "trigger":
                raise ValueError("trigger() decorator can only be used in a trigger Integration")
            _registry.add(kind="trigger", func=func, product=fields["product"], target_product=fields["target_product"],
                          role=fields["role"], topic=fields["topic"], mode=fields["mode"], format=_format_of(format, fields),
                          keep_when_overloaded=True, file=rel)
        else:
            _registry.add(kind="trigger", func=func, product=_registry.PRODUCT, role="trigger", topic=topic, mode=mode,
                          format=format, keep_when_overloaded=True, file=rel)
        return func

    return decorator

def execute(topic: str | None = None, mode: Mode | None = None, format: str | None = None):
    """Declares a execute hook: in an integration's file, for that
    integration; elsewhere in the product folder, for the product."""
    _check_mode("execute", mode)

    def decorator(func: Callable):
        fields, rel = _integration_or_product("execute", func)
        if fields is not None:
            # The original tests for a trigger role here and so refuses every
            # executor integration: fixed on purpose.
            if fields["role"] != "executor":
                raise ValueError("execute() decorator can only be used in an executor Integration")
            _registry.add(kind="execute", func=func, product=fields["product"], target_product=fields["target_product"],
                          role=fields["role"], topic=fields["topic"], mode=fields["mode"], format=_format_of(format, fields),
                          keep_when_overloaded=True, file=rel)
        else:
            _registry.add(kind="execute", func=func, product=_registry.PRODUCT, role="executor", topic=topic, mode=mode,
                          format=format, keep_when_overloaded=True, file=rel)
        return func

    return decorator

def publish(topic: str | None = None, role: Role | None = None, mode: Mode | None = None, format: str | None = None):
    """Declares a hook publishing an integration of the product to the vendor's catalog."""
    _check_mode("publish", mode)
    if role is not None and role not in _ROLES:
        raise ValueError(f"publish(): role must be one of {', '.join(_ROLES)}, not {role!r}")

    def decorator(func: Callable):
        fields, rel = _integration_or_product("publish", func)
        if fields is not None:
            _registry.add(kind="publish", func=func, product=fields["product"], target_product=fields["target_product"],
                          role=fields["role"], topic=fields["topic"], mode=fields["mode"], format=_format_of(format, fields),
                          keep_when_overloaded=True, file=rel)
        else:
            _registry.add(kind="publish", func=func, product=_registry.PRODUCT, role=role, topic=topic, mode=mode,
                          format=format, keep_when_overloaded=True, file=rel)
        return func

    return decorator


def pull(title: str | None = None, order: HookOrder | None = None):
    """Declares a hook importing the product's integrations catalog."""
    _check_order("pull", order)

    def decorator(func: Callable):
        rel = _product_level("pull", func, "can't be used outside of a Product's directory")
        _registry.add(kind="pull", func=func, product=_registry.PRODUCT, keep_when_overloaded=True, order=order,
                      title=title, file=rel)
        return func

    return decorator

def scaffold_consumer(
    topic: str | None = None,
    mode: Mode | None = None,
    format: str | None = None,
    order: HookOrder | None = None,
):
    """Declares a code generator for a new consumer integration of the product."""
    _check_order("scaffold_consumer", order)
    _check_mode("scaffold_consumer", mode)

    def decorator(func: Callable):
        rel = _product_level("scaffold_consumer", func, "is allowed only in a product's python modules")
        _registry.add(kind="scaffold", func=func, product=_registry.PRODUCT, role="consumer", topic=topic, mode=mode,
                      format=format, keep_when_overloaded=True, order=order, file=rel)
        return func

    return decorator

def scaffold_executor(
    topic: str | None = None,
    mode: Mode | None = None,
    format: str | None = None,
    order: HookOrder | None = None,
):
    """Declares a code generator for a new executor integration of the product."""
    _check_order("scaffold_executor", order)
    _check_mode("scaffold_executor", mode)

    def decorator(func: Callable):
        rel = _product_level("scaffold_executor", func, "is allowed only in a product's python modules")
        _registry.add(kind="scaffold", func=func, product=_registry.PRODUCT, role="executor", topic=topic, mode=mode,
                      format=format, keep_when_overloaded=True, order=order, file=rel)
        return func

    return decorator

def scaffold_producer(
    topic: str | None = None,
    mode: Mode | None = None,
    format: str | None = None,
    order: HookOrder | None = None,
):
    """Declares a code generator for a new producer integration of the product."""
    _check_order("scaffold_producer", order)
    _check_mode("scaffold_producer", mode)

    def decorator(func: Callable):
        rel = _product_level("scaffold_producer", func, "is allowed only in a product's python modules")
        _registry.add(kind="scaffold", func=func, product=_registry.PRODUCT, role="producer", topic=topic, mode=mode,
                      format=format, keep_when_overloaded=True, order=order, file=rel)
        return func

    return decorator

def scaffold_trigger(
    topic: str | None = None,
    mode: Mode | None = None,
    format: str | None = None,
    order: HookOrder | None = None,
):
    """Declares a code generator for a new trigger integration of the product."""
    _check_order("scaffold_trigger", order)
    _check_mode("scaffold_trigger", mode)

    def decorator(func: Callable):
        rel = _product_level("scaffold_trigger", func, "is allowed only in a product's python modules")
        _registry.add(kind="scaffold", func=func, product=_registry.PRODUCT, role="trigger", topic=topic, mode=mode,
                      format=format, keep_when_overloaded=True, order=order, file=rel)
        return func

    return decorator

def setup(
    title: str | None = None,
    format: str | None = None,
    order: HookOrder | None = None,
    owns_both: bool = False,
):
    """Declares a setup step of the integration whose file it sits in."""
    _check_order("setup", order)

    def decorator(func: Callable):
        kind, fields, rel = _registry.file_of(func)
        if kind != "integration":
            raise ValueError("setup() decorator can't be used outside of an Integration")
        _registry.add(kind="setup", func=func, product=fields["product"], target_product=fields["target_product"],
                      role=fields["role"], topic=fields["topic"], mode=fields["mode"], format=_format_of(format, fields),
                      keep_when_overloaded=True, order=order, title=title, owns_both=owns_both, file=rel)
        return func

    return decorator


def teardown(
    title: str | None = None,
    order: HookOrder | None = None,
    owns_both: bool = False,
):
    """Declares a teardown step of the integration whose file it sits in."""
    _check_order("teardown", order)

    def decorator(func: Callable):
        kind, fields, rel = _registry.file_of(func)
        if kind != "integration":
            raise ValueError("teardown() decorator can't be used outside of an Integration")
        _registry.add(kind="teardown", func=func, product=fields["product"], target_product=fields["target_product"],
                      role=fields["role"], topic=fields["topic"], mode=fields["mode"], format=fields["format"],
                      keep_when_overloaded=True, order=order, title=title, owns_both=owns_both, file=rel)
        return func

    return decorator


def check(topic: str | None = None, role: Role | None = None, mode: Mode | None = None, format: str | None = None):
    """meshroom's addition (the original has no check hooks): declares a
    hook telling whether a plug is really up on the product (`meshroom
    check`). It returns True/False, "up"/"down"/"drifted", or a
    (state, detail) pair."""
    _check_mode("check", mode)
    if role is not None and role not in _ROLES:
        raise ValueError(f"check(): role must be one of {', '.join(_ROLES)}, not {role!r}")

    def decorator(func: Callable):
        fields, rel = _integration_or_product("check", func)
        if fields is not None:
            _registry.add(kind="check", func=func, product=fields["product"], target_product=fields["target_product"],
                          role=fields["role"], topic=fields["topic"], mode=fields["mode"], format=_format_of(format, fields),
                          keep_when_overloaded=True, file=rel)
        else:
            _registry.add(kind="check", func=func, product=_registry.PRODUCT, role=role, topic=topic, mode=mode,
                          format=format, keep_when_overloaded=True, file=rel)
        return func

    return decorator
