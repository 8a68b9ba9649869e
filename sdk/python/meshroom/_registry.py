"""The hooks the decorators declared while ``meshroom build`` imported the
product's hook files, and which file declared them (a product-level file
at the product folder's root, or an integration file
``integrations/<target>/<topic>_<role>[_<format>][_pull].py``).

Filled once, at build time (the component's pre-initialisation); read by
``describe`` and the dispatch. Must not read files at run time.
"""

import inspect

#: The product the component serves (set by the generated entry module).
PRODUCT = ""
#: Where the build staged the product folder (mapped back in tracebacks).
STAGE = ""
#: The adapter version `describe` reports.
VERSION = "0.1.0"
#: Registered hooks, in declaration order.
HOOKS: list = []
#: file path (as compiled) -> ("product", None) or ("integration", fields)
FILES: dict = {}
#: The file being imported, for functions whose file is not known.
CURRENT: list = []


class Hook:
    """One decorated function and its scope."""

    def __init__(self, *, kind, func, product, target_product=None, role=None, topic=None, mode=None,
                 format=None, keep_when_overloaded=False, order=None, title=None, owns_both=False, file=""):
        self.kind = kind
        self.func = func
        self.product = product
        self.target_product = target_product
        self.role = role
        self.topic = topic
        self.mode = mode
        self.format = format
        self.keep_when_overloaded = keep_when_overloaded
        self.order = order
        self.title = title or inspect.getdoc(func) or func.__name__
        self.owns_both = owns_both
        self.file = file
        # `<module>.<function>`, the module dotted from the product folder
        # (`setup.create_webhook`, `integrations.edr.events_consumer.setup`):
        # the ids the host's static reading of the files gives, so listings
        # made before and after a build name the same hooks.
        module = file.removeprefix(f"products/{product}/").removesuffix(".py")
        base = f"{module.replace('/', '.')}.{func.__name__}"
        taken = {h.id for h in HOOKS}
        hid, n = base, 1
        while hid in taken:
            n += 1
            hid = f"{base}#{n}"
        self.id = hid


def file_of(func):
    """The (kind, integration fields, relative path) of the file that defines ``func``."""
    try:
        path = inspect.getfile(func)
    except TypeError:
        path = None
    if path in FILES:
        kind, fields, rel = FILES[path]
        return kind, fields, rel
    if CURRENT:
        return CURRENT[-1]
    return None, None, path or "?"


def add(**kw) -> Hook:
    h = Hook(**kw)
    HOOKS.append(h)
    return h
