"""One HTTP exchange over ``wasi:http/outgoing-handler``: the request is
handed to the host (which checks the egress policy and sends it), its
body written, the response read whole. Resources are dropped child first,
as wasi:http requires.
"""

from urllib.parse import urlsplit

from componentize_py_types import Err
from wit_world.imports import outgoing_handler, streams
from wit_world.imports import wasi_http_types as h

from requests import exceptions

_CHUNK = 4096
# Headers the host sets itself (wasi:http refuses them from a guest).
_FORBIDDEN = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "host", "http2-settings"}

_METHODS = {
    "GET": h.Method_Get, "HEAD": h.Method_Head, "POST": h.Method_Post, "PUT": h.Method_Put,
    "DELETE": h.Method_Delete, "CONNECT": h.Method_Connect, "OPTIONS": h.Method_Options,
    "TRACE": h.Method_Trace, "PATCH": h.Method_Patch,
}


def _error_text(code) -> str:
    name = type(code).__name__.replace("ErrorCode_", "")
    value = getattr(code, "value", None)
    if value is not None and not isinstance(value, (int, str)):
        parts = [f"{k}={v}" for k, v in vars(value).items() if v is not None] if hasattr(value, "__dict__") else []
        return f"{name}({', '.join(parts)})" if parts else name
    return f"{name}({value})" if value is not None else name


def _raise_for_code(code, method, url, authority):
    text = _error_text(code)
    if isinstance(code, h.ErrorCode_HttpRequestDenied):
        raise exceptions.ConnectionError(
            f"the sandbox refused {method} {url}: `{authority}` is not in the product's egress policy"
        )
    if isinstance(code, (h.ErrorCode_ConnectionTimeout,)):
        raise exceptions.ConnectTimeout(f"{method} {url}: {text}")
    if isinstance(code, (h.ErrorCode_ConnectionReadTimeout, h.ErrorCode_HttpResponseTimeout)):
        raise exceptions.ReadTimeout(f"{method} {url}: {text}")
    if isinstance(code, (h.ErrorCode_ConnectionRefused, h.ErrorCode_DnsError, h.ErrorCode_DestinationNotFound,
                         h.ErrorCode_DestinationUnavailable, h.ErrorCode_DestinationIpProhibited,
                         h.ErrorCode_DestinationIpUnroutable, h.ErrorCode_ConnectionTerminated,
                         h.ErrorCode_DnsTimeout)):
        raise exceptions.ConnectionError(f"{method} {url}: {text}")
    raise exceptions.RequestException(f"{method} {url}: {text}")


def _ns(seconds):
    return None if seconds is None else int(float(seconds) * 1_000_000_000)


def send(method, url, headers, body, timeout):
    from requests import Response, _REASONS

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise exceptions.InvalidURL(f"Invalid URL {url!r}: only absolute http:// and https:// URLs can be requested")
    entries = []
    for k, v in headers.items():
        if str(k).lower() in _FORBIDDEN:
            continue
        entries.append((str(k), str(v).encode("latin1") if isinstance(v, str) else bytes(v)))
    try:
        fields = h.Fields.from_list(entries)
    except Err as e:
        raise exceptions.InvalidHeader(f"invalid header for {url}: {type(e.value).__name__}")
    request = h.OutgoingRequest(fields)
    m = _METHODS.get(method)
    request.set_method(m() if m else h.Method_Other(method))
    request.set_scheme(h.Scheme_Http() if parts.scheme == "http" else h.Scheme_Https())
    request.set_authority(parts.netloc)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    request.set_path_with_query(path)
    options = None
    if timeout is not None:
        connect, read = timeout if isinstance(timeout, tuple) else (timeout, timeout)
        options = h.RequestOptions()
        for setter, value in ((options.set_connect_timeout, connect), (options.set_first_byte_timeout, read),
                              (options.set_between_bytes_timeout, read)):
            try:
                setter(_ns(value))
            except Err:
                pass
    outgoing = request.body()
    try:
        future = outgoing_handler.handle(request, options)
    except Err as e:
        _raise_for_code(e.value, method, url, parts.netloc)
    if body:
        with outgoing.write() as stream:
            for i in range(0, len(body), _CHUNK):
                try:
                    stream.blocking_write_and_flush(body[i:i + _CHUNK])
                except Err:
                    break
    finish_error = None
    try:
        h.OutgoingBody.finish(outgoing, None)
    except Err as e:
        # A refused request fails the body too: the response's error
        # (below) says why, so it goes first.
        finish_error = e.value
    with future:
        result = future.get()
        while result is None:
            with future.subscribe() as pollable:
                pollable.block()
            result = future.get()
    if isinstance(result, Err):
        raise exceptions.RequestException(f"{method} {url}: the response was already taken")
    inner = result.value if hasattr(result, "value") else result
    if isinstance(inner, Err):
        _raise_for_code(inner.value, method, url, parts.netloc)
    if finish_error is not None:
        _raise_for_code(finish_error, method, url, parts.netloc)
    incoming = inner.value if hasattr(inner, "value") and not isinstance(inner, h.IncomingResponse) else inner
    resp = Response()
    resp.url = url
    with incoming:
        resp.status_code = incoming.status()
        resp.reason = _REASONS.get(resp.status_code, "")
        with incoming.headers() as hdrs:
            for k, v in hdrs.entries():
                value = v.decode("latin1")
                if k in resp.headers:
                    resp.headers[k] = resp.headers[k] + ", " + value
                else:
                    resp.headers[k] = value
        chunks = []
        with incoming.consume() as incoming_body:
            with incoming_body.stream() as stream:
                while True:
                    try:
                        chunks.append(stream.blocking_read(65536))
                    except Err as e:
                        if isinstance(e.value, streams.StreamError_Closed):
                            break
                        raise exceptions.ConnectionError(f"{method} {url}: the connection failed while reading the body")
        resp._content = b"".join(chunks)
    return resp
