"""The component's exports: ``describe`` lists the hooks the decorators
registered; each hook kind maps the WIT context onto the original's
objects (``plug``, ``integration``, ``instance``, ``topic``, ``mode``,
``data``), calls the hook with the arguments its signature names (as the
original does), and turns what it returned or recorded into the WIT
result. A raised exception becomes the hook's error, with its text and the
product file and line it came from.
"""

import inspect
import json
import sys
import traceback

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import meshroom_adapter_types as t

from meshroom import _host, _registry, model

_KIND = {
    "setup": t.HookKind.SETUP,
    "teardown": t.HookKind.TEARDOWN,
    "check": t.HookKind.CHECK,
    "produce": t.HookKind.PRODUCE,
    "watch": t.HookKind.WATCH,
    "trigger": t.HookKind.TRIGGER,
    "execute": t.HookKind.EXECUTE,
    "scaffold": t.HookKind.SCAFFOLD,
    "pull": t.HookKind.PULL,
    "publish": t.HookKind.PUBLISH,
}
_ROLE = {
    "producer": t.Role.PRODUCER,
    "consumer": t.Role.CONSUMER,
    "trigger": t.Role.TRIGGER,
    "executor": t.Role.EXECUTOR,
}
_ROLE_NAME = {v: k for k, v in _ROLE.items()}
_MODE = {"push": t.Mode.PUSH, "pull": t.Mode.PULL}
_MODE_NAME = {v: k for k, v in _MODE.items()}


def _order(order):
    if order is None:
        return None
    if order == "first":
        return t.HookOrder_First()
    if order == "last":
        return t.HookOrder_Last()
    return t.HookOrder_Position(int(order))


def _info(h) -> "t.HookInfo":
    return t.HookInfo(
        id=h.id,
        kind=_KIND[h.kind],
        role=_ROLE.get(h.role) if h.role else None,
        topic=h.topic,
        mode=_MODE.get(h.mode) if h.mode else None,
        format=h.format,
        target_product=h.target_product,
        owns_both=bool(h.owns_both),
        keep_when_overloaded=bool(h.keep_when_overloaded),
        order=_order(h.order),
        title=str(h.title),
    )


def _json(text: str, what: str):
    try:
        value = json.loads(text) if text else {}
    except ValueError as e:
        raise Err(t.AdapterError_Failed(f"the host sent malformed JSON as {what}: {e}"))
    return value


def _instance(w, current: bool) -> model.Instance:
    settings = _json(w.settings, "instance settings")
    return model.Instance(w.name, w.product, settings if isinstance(settings, dict) else {}, _current=current)


class _Call:
    """The original's objects for one hook call."""

    def __init__(self, ctx: "t.Context") -> None:
        self.instance = None
        self.plug = None
        self.integration = None
        self.outputs_before = {}
        current = ctx.instance.name if ctx.instance else None
        current_product = ctx.instance.product if ctx.instance else None
        if ctx.instance is not None:
            self.instance = _instance(ctx.instance, True)
        if ctx.plug is not None:
            p = ctx.plug
            src = _instance(p.src, (p.src.name, p.src.product) == (current, current_product))
            dst = _instance(p.dst, (p.dst.name, p.dst.product) == (current, current_product))
            if self.instance is not None:
                src = self.instance if src._current else src
                dst = self.instance if dst._current else dst
            outputs = _json(p.outputs, "the plug's outputs")
            outputs = outputs if isinstance(outputs, dict) else {}
            self.outputs_before = json.loads(json.dumps(outputs))
            self.plug = model.Plug(
                src_instance=p.src.name,
                dst_instance=p.dst.name,
                topic=p.topic,
                mode=_MODE_NAME.get(p.mode, "push"),
                format=p.format,
                src_config=_json(p.src_config, "the plug's src_config") or {},
                dst_config=_json(p.dst_config, "the plug's dst_config") or {},
                status="down",
                kind="trigger" if p.is_trigger else None,
                settings=outputs,
                _src=src,
                _dst=dst,
            )
        if ctx.integration is not None:
            i = ctx.integration
            fields = _json(i.settings, "the integration's fields")
            fields = dict(fields) if isinstance(fields, dict) else {}
            for k in ("product", "target_product", "topic", "role", "mode", "format"):
                fields.pop(k, None)
            self.integration = model.Integration(
                product=i.product,
                target_product=i.target_product,
                topic=i.topic,
                role=_ROLE_NAME.get(i.role, "consumer"),
                mode=_MODE_NAME.get(i.mode, "push"),
                format=i.format,
                **fields,
            )

    def kwargs(self, **extra):
        topic = self.plug.topic if self.plug else (self.integration.topic if self.integration else None)
        mode = self.plug.mode if self.plug else (self.integration.mode if self.integration else None)
        kw = {
            "plug": self.plug,
            "integration": self.integration,
            "instance": self.instance,
            "topic": topic,
            "mode": mode,
            "role": self.integration.role if self.integration else None,
        }
        kw.update(extra)
        return kw

    def outcome(self, recorder) -> "t.Outcome":
        outputs = {}
        if self.plug is not None:
            after = self.plug.settings if isinstance(self.plug.settings, dict) else {}
            for k, v in after.items():
                if self.outputs_before.get(k, object()) != v:
                    outputs[str(k)] = v
            for k in self.outputs_before:
                if k not in after:
                    outputs[str(k)] = None
        secrets = [t.SecretOutput(name=k, value=v) for k, v in recorder.secrets.items()]
        return t.Outcome(outputs=json.dumps(outputs, default=str), secrets=secrets)


def _hook(hook_id: str, kind: str):
    """The hook `hook_id`, called through the export of `kind`: a hook of
    another kind is not run (a teardown is never run as a setup)."""
    for h in _registry.HOOKS:
        if h.id == hook_id:
            if h.kind != kind:
                raise Err(t.AdapterError_NotSupported(f"hook `{hook_id}` is a {h.kind} hook, not a {kind} hook"))
            return h
    raise Err(t.AdapterError_NotSupported(f"this adapter has no {kind} hook `{hook_id}`"))


def _shown(filename: str) -> str:
    stage = _registry.STAGE
    if stage and filename.startswith(stage):
        return f"products/{_registry.PRODUCT}{filename[len(stage):]}"
    return filename


def _where(exc: BaseException) -> str:
    """`products/<p>/<file>:<line>, in <func>` of the innermost frame in the product's files."""
    frames = traceback.extract_tb(exc.__traceback__)
    prefix = f"products/{_registry.PRODUCT}/"
    for fr in reversed(frames):
        name = _shown(fr.filename)
        if name.startswith(prefix):
            return f"{name}:{fr.lineno}, in {fr.name}"
    if frames:
        fr = frames[-1]
        return f"{_shown(fr.filename)}:{fr.lineno}, in {fr.name}"
    return ""


def _error(exc: BaseException):
    """The WIT error for an exception a hook raised."""
    if isinstance(exc, Err):
        return exc
    text = f"{type(exc).__name__}: {exc}"
    where = _where(exc)
    if where:
        text += f" (at {where})"
    if isinstance(exc, OSError) and not _is_requests(exc):
        text += " (the sandbox has no filesystem)"
    if isinstance(exc, ImportError):
        text += " (not available inside the sandbox)"
    try:
        import requests

        if isinstance(exc, requests.HTTPError) and exc.response is not None and exc.response.status_code in (401, 403):
            return Err(t.AdapterError_Unauthorized(text))
        if isinstance(exc, (requests.ConnectionError, requests.Timeout)):
            return Err(t.AdapterError_Unreachable(text))
    except ImportError:
        pass
    # The original's hooks raise ValueError for a missing or bad setting,
    # and a missing key of a settings dict is the same mistake.
    if type(exc) is ValueError or type(exc) is KeyError:
        return Err(t.AdapterError_InvalidConfig(text))
    if isinstance(exc, NotImplementedError):
        return Err(t.AdapterError_NotSupported(text))
    return Err(t.AdapterError_Failed(text))


def _is_requests(exc) -> bool:
    try:
        import requests

        return isinstance(exc, requests.RequestException)
    except ImportError:
        return False


def _invoke(h, kw):
    sig = inspect.signature(h.func)
    if any(p.kind == p.VAR_KEYWORD for p in sig.parameters.values()):
        args = kw
    else:
        args = {k: v for k, v in kw.items() if k in sig.parameters}
    return h.func(**args)


def _run(kind, hook_id, ctx, make, **extra):
    h = _hook(hook_id, kind)
    recorder = model._reset_recorder()
    try:
        call = _Call(ctx)
        result = _invoke(h, call.kwargs(**extra))
        return make(call, result, recorder)
    except Err:
        raise
    except BaseException as exc:  # noqa: BLE001 - every failure is the hook's error
        if isinstance(exc, (KeyboardInterrupt, SystemExit)) and not isinstance(exc, SystemExit):
            raise
        raise _error(exc)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()


def _state(value):
    if isinstance(value, tuple) and len(value) == 2:
        state, detail = value
    else:
        state, detail = value, ""
    if state is True or state == "up":
        s = t.PlugState.UP
    elif state is False or state is None or state == "down":
        s = t.PlugState.DOWN
    elif state == "drifted":
        s = t.PlugState.DRIFTED
    else:
        raise ValueError(f"a check hook must return True/False, \"up\", \"down\" or \"drifted\" (optionally with a detail), not {value!r}")
    return t.CheckReport(state=s, detail=str(detail or ""))


def _record(data: bytes):
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data


def _json_out(value) -> str:
    return json.dumps(value, default=str)


class Watcher(exports.hooks.Watcher):
    """A running watch hook: the original's generator, one record per batch."""

    def __init__(self, iterator, hook_id: str) -> None:
        self._it = iterator
        self._hook = hook_id

    def next(self):
        if self._it is None:
            return None
        try:
            item = next(self._it)
        except StopIteration:
            self._it = None
            return None
        except Err:
            raise
        except BaseException as exc:  # noqa: BLE001
            self._it = None
            raise _error(exc)
        if isinstance(item, (list, tuple)):
            return [x if isinstance(x, str) else _json_out(x) for x in item]
        if isinstance(item, bytes):
            return [item.decode("utf-8", "replace")]
        return [item if isinstance(item, str) else _json_out(item)]


class Hooks(exports.Hooks):
    """The ``meshroom:adapter/hooks`` exports."""

    def describe(self):
        return t.AdapterInfo(product=_registry.PRODUCT, version=_registry.VERSION, hooks=[_info(h) for h in _registry.HOOKS])

    def setup(self, hook, ctx):
        return _run("setup", hook, ctx, lambda call, _r, rec: call.outcome(rec))

    def teardown(self, hook, ctx):
        return _run("teardown", hook, ctx, lambda call, _r, rec: call.outcome(rec))

    def check(self, hook, ctx):
        return _run("check", hook, ctx, lambda _c, r, _rec: _state(r))

    def produce(self, hook, ctx, batch):
        _hook(hook, "produce")
        accepted = 0
        for record in batch:
            _run("produce", hook, ctx, lambda *_: None, data=_record(record))
            accepted += 1
        return t.ProduceReport(accepted=accepted, detail="")

    def watch(self, hook, ctx):
        def start(_call, result, _rec):
            if result is None:
                return Watcher(None, hook)
            if isinstance(result, (str, bytes, dict)):
                return Watcher(iter([result]), hook)
            return Watcher(iter(result), hook)

        return _run("watch", hook, ctx, start)

    def trigger(self, hook, ctx, params):
        return _run("trigger", hook, ctx, lambda _c, r, _rec: _json_out(r), data=_json(params, "the trigger's params"))

    def execute(self, hook, ctx, params):
        return _run("execute", hook, ctx, lambda _c, r, _rec: _json_out(r), data=_json(params, "the execute's params"))

    def scaffold(self, hook, ctx):
        def files(_c, r, _rec):
            items = r.items() if isinstance(r, dict) else (r or [])
            out = []
            for path, contents in items:
                if isinstance(contents, str):
                    contents = contents.encode("utf-8")
                out.append(t.File(path=str(path), contents=bytes(contents)))
            return out

        return _run("scaffold", hook, ctx, files)

    def pull(self, hook, ctx):
        def defs(_c, r, _rec):
            out = []
            for d in r or []:
                if isinstance(d, dict):
                    name = str(d.get("name", ""))
                    definition = d.get("definition", d)
                else:
                    name, definition = d
                if not isinstance(definition, str):
                    definition = json.dumps(definition, indent=2, default=str)
                out.append(t.ProductDefinition(name=name, definition=definition))
            return out

        return _run("pull", hook, ctx, defs)

    def publish(self, hook, ctx):
        return _run("publish", hook, ctx, lambda _c, r, _rec: "" if r is None else str(r))
