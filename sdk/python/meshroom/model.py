"""``meshroom.model`` of the original, as hooks see it: ``Integration``,
``Plug``, ``Instance`` and ``ProductSetting``, built by the SDK's dispatch
from the WIT context of one hook call.

What a hook records goes back to the host, never to disk:
``plug.settings[...] = ...`` (kept by ``plug.save()`` or at the end of the
hook, as the original saves the plug after setup) become the outcome's
outputs, ``plug.set_secret`` / ``instance.set_secret`` its secret outputs.
Secrets are read through the host, which answers only for the instance
whose hook runs: another instance's secrets are never reachable.
"""

from typing import Any, Literal

Role = Literal["producer", "consumer", "trigger", "executor"]
Mode = Literal["push", "pull"]


class _Recorder:
    """What the current hook call recorded (secret outputs)."""

    def __init__(self) -> None:
        self.secrets: dict[str, str] = {}
        self.saved: bool = False


_recorder = _Recorder()


def _reset_recorder() -> _Recorder:
    global _recorder
    _recorder = _Recorder()
    return _recorder


def _read_secret(key: str, prompt_if_not_exist, who: str):
    from meshroom import _host

    value = _recorder.secrets.get(str(key))
    if value is None:
        value = _host.secret(str(key))
    if value is None and prompt_if_not_exist:
        raise ValueError(
            f"secret `{key}` of {who} is not set, and hooks cannot prompt inside the sandbox: "
            "set it before running the hook (e.g. `meshroom configure`)"
        )
    return value


class ProductSetting:
    """One setting of a product or an integration (name, type, default…)."""

    def __init__(
        self,
        name: str,
        type: str = "string",
        items: Any = None,
        properties: Any = None,
        default: Any = None,
        description: str = "",
        secret: bool = False,
        required: bool = False,
        **extra: Any,
    ) -> None:
        if isinstance(type, list):
            type = next((t for t in type if t != "null"), "string")
        self.name = name
        self.type = type
        self.items = items if items is not None else []
        self.properties = [
            p if isinstance(p, ProductSetting) else ProductSetting(**p) for p in (properties or []) if isinstance(p, (dict, ProductSetting))
        ]
        self.default = default
        self.description = description
        self.secret = secret
        self.required = required
        for k, v in extra.items():
            setattr(self, k, v)

    def __repr__(self) -> str:
        return f"ProductSetting(name={self.name!r}, type={self.type!r})"


def _settings_list(raw) -> list:
    out = []
    for s in raw or []:
        if isinstance(s, ProductSetting):
            out.append(s)
        elif isinstance(s, dict) and "name" in s:
            out.append(ProductSetting(**s))
    return out


class Instance:
    """An instance (tenant) of a product: ``name``, ``product``,
    ``settings`` (non-secret); secrets through ``get_secret``."""

    def __init__(self, name: str, product: str, settings: dict | None = None, _current: bool = False) -> None:
        self.name = name
        self.product = product
        self.settings = settings if settings is not None else {}
        self._current = _current

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return self.name

    def get_secret(self, key: str, prompt_if_not_exist: str | bool | None = None):
        """A secret setting of this instance (e.g. ``api_key``); None when
        unset. Only the instance whose hook runs can read its secrets."""
        if not self._current:
            from meshroom import _host

            _host.log("warn", f"secret `{key}` of instance `{self.name}` is not readable from this hook (the sandbox gives a hook only its own instance's secrets)")
            return None
        return _read_secret(key, prompt_if_not_exist, f"instance `{self.name}`")

    def set_secret(self, key: str, value: Any):
        """Records a secret output (stored encrypted by the host)."""
        _recorder.secrets[str(key)] = str(value)
        return value

    def get_product(self):
        return self.product

    def save(self):
        """Instances are saved by the host; kept for compatibility."""
        return self


class Integration:
    """The recipe of one end of a plug: ``product``, ``target_product``,
    ``topic``, ``role``, ``mode``, ``format``, ``settings`` and every other
    key of its YAML manifest as an attribute."""

    def __init__(
        self,
        product: str,
        target_product: str,
        topic: str,
        role: str,
        mode: str = "push",
        format: str | None = None,
        documentation_url: str = "",
        settings: Any = None,
        description: str = "",
        is_generic: bool = False,
        **extra: Any,
    ) -> None:
        self.product = product
        self.target_product = target_product
        self.topic = topic
        self.role = role
        self.mode = mode
        self.format = format
        self.documentation_url = documentation_url
        self.settings = _settings_list(settings)
        self.description = description
        self.is_generic = is_generic
        for k, v in extra.items():
            setattr(self, k, v)

    def __str__(self) -> str:
        if self.role in ("producer", "trigger"):
            return f"{self.product} --[{self.topic}:{self.mode}]-> {self.target_product} ({self.role})"
        return f"{self.product} <-[{self.topic}:{self.mode}]-- {self.target_product} ({self.role})"

    def __repr__(self) -> str:
        return str(self)

    def get_product(self):
        return self.product

    def get_target_product(self):
        return self.target_product


class Plug:
    """A live edge: ``src_instance`` and ``dst_instance`` (names),
    ``topic``, ``mode``, ``format``, ``src_config``, ``dst_config``,
    ``kind``, ``owner`` and ``settings`` (the outputs recorded so far)."""

    def __init__(
        self,
        src_instance: str,
        dst_instance: str,
        topic: str,
        mode: str = "push",
        format: str | None = None,
        src_config: dict | None = None,
        dst_config: dict | None = None,
        status: str = "down",
        kind: str | None = None,
        owner: str | None = None,
        settings: dict | None = None,
        _src: Instance | None = None,
        _dst: Instance | None = None,
    ) -> None:
        self.src_instance = src_instance
        self.dst_instance = dst_instance
        self.topic = topic
        self.mode = mode
        self.format = format
        self.src_config = src_config if src_config is not None else {}
        self.dst_config = dst_config if dst_config is not None else {}
        self.status = status
        self.kind = kind
        self.owner = owner
        self.settings = settings if settings is not None else {}
        self._src = _src
        self._dst = _dst

    def __str__(self) -> str:
        out = f"{self.src_instance} --[{self.topic}:{self.mode}]-> {self.dst_instance}"
        if self.format:
            out += f" ({self.format})"
        return out

    def save(self):
        """Keeps ``settings`` as the plug's recorded outputs."""
        _recorder.saved = True
        return self

    def get_secret(self, key: str, prompt_if_not_exist: str | bool | None = None):
        """A secret output recorded on this plug (or a secret setting of the
        instance whose hook runs); None when unset."""
        return _read_secret(key, prompt_if_not_exist, f"plug {self}")

    def set_secret(self, key: str, value: Any):
        """Records a secret output on this plug (stored encrypted by the host)."""
        _recorder.secrets[str(key)] = str(value)
        return value

    def delete_secret(self, key: str):
        """Clears a secret output of this plug (recorded as empty)."""
        _recorder.secrets[str(key)] = ""

    def get_src_instance(self) -> Instance:
        return self._src or Instance(self.src_instance, "")

    def get_dst_instance(self) -> Instance:
        return self._dst or Instance(self.dst_instance, "")

    def get_src_product(self):
        return self.get_src_instance().product

    def get_dst_product(self):
        return self.get_dst_instance().product
