"""meshroom's Python SDK: the hook-facing API of the original Meshroom 0.3.4
(``meshroom.decorators``, ``meshroom.model``, ``meshroom.interaction``),
re-created so that a product's hook files import it unchanged and run as a
sandboxed WebAssembly component built by ``meshroom build``.

It must not touch the machine: inside the component there is no
filesystem, no environment and no network beyond the product's egress
policy; everything a hook records goes back to the host through the WIT
``outcome``.
"""

__version__ = "0.1.0"
