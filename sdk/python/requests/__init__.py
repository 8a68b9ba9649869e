"""A ``requests``-compatible HTTP client over ``wasi:http/outgoing-handler``,
for hooks written against the real ``requests``: ``Session`` (``headers``,
``auth``, ``params``, ``request``/``get``/``post``/``put``/``patch``/
``delete``/``head``/``options``), the module-level functions, ``Response``
(``status_code``, ``headers``, ``text``, ``content``, ``json()``, ``ok``,
``raise_for_status()``) and the exceptions (``HTTPError``…).

Every request leaves through the host, which applies the product's egress
policy and its timeouts: a host outside the policy is a ``ConnectionError``
naming it. ``verify`` and ``cert`` are accepted and left to the host (TLS
is the host's). There are no cookies jars, proxies nor streaming uploads.
"""

import base64
import json as _json
from collections.abc import Mapping, MutableMapping
from urllib.parse import urlencode, urljoin, urlsplit, urlunsplit

from requests import exceptions
from requests.exceptions import (  # noqa: F401 - re-exported as in requests
    ConnectionError,
    ConnectTimeout,
    HTTPError,
    InvalidURL,
    JSONDecodeError,
    ReadTimeout,
    RequestException,
    Timeout,
    TooManyRedirects,
)

__version__ = "2.32.3"
__all__ = [
    "Session", "Response", "request", "get", "post", "put", "patch", "delete", "head", "options",
    "HTTPError", "ConnectionError", "Timeout", "RequestException", "exceptions", "codes",
]

_REASONS = {
    200: "OK", 201: "Created", 202: "Accepted", 204: "No Content", 301: "Moved Permanently", 302: "Found",
    303: "See Other", 304: "Not Modified", 307: "Temporary Redirect", 308: "Permanent Redirect",
    400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
    409: "Conflict", 410: "Gone", 422: "Unprocessable Entity", 429: "Too Many Requests",
    500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout",
}


class _Codes:
    ok = 200
    created = 201
    accepted = 202
    no_content = 204
    bad_request = 400
    unauthorized = 401
    forbidden = 403
    not_found = 404
    conflict = 409
    too_many_requests = 429
    internal_server_error = 500


codes = _Codes()


class CaseInsensitiveDict(MutableMapping):
    """A dict of headers whose keys compare without case."""

    def __init__(self, data=None, **kwargs):
        self._store = {}
        self.update(data or {}, **kwargs)

    def __setitem__(self, key, value):
        self._store[key.lower()] = (key, value)

    def __getitem__(self, key):
        return self._store[key.lower()][1]

    def __delitem__(self, key):
        del self._store[key.lower()]

    def __iter__(self):
        return (k for k, _ in self._store.values())

    def __len__(self):
        return len(self._store)

    def lower_items(self):
        return ((k, v[1]) for k, v in self._store.items())

    def copy(self):
        return CaseInsensitiveDict(self._store.values())

    def __eq__(self, other):
        if isinstance(other, Mapping):
            other = CaseInsensitiveDict(other)
        else:
            return NotImplemented
        return dict(self.lower_items()) == dict(other.lower_items())

    def __repr__(self):
        return str(dict(self.items()))


class PreparedRequest:
    """What was sent: ``method``, ``url``, ``headers``, ``body``."""

    def __init__(self, method, url, headers, body):
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body


class Response:
    """An HTTP response, read whole."""

    def __init__(self):
        self.status_code = None
        self.headers = CaseInsensitiveDict()
        self._content = b""
        self.url = ""
        self.reason = ""
        self.request = None
        self.encoding = None
        self.history = []
        self.elapsed = None

    @property
    def content(self) -> bytes:
        return self._content

    @property
    def text(self) -> str:
        encoding = self.encoding
        if encoding is None:
            ctype = self.headers.get("content-type", "")
            for part in ctype.split(";")[1:]:
                k, _, v = part.strip().partition("=")
                if k.lower() == "charset" and v:
                    encoding = v.strip("\"'")
        try:
            return self._content.decode(encoding or "utf-8", errors="replace")
        except LookupError:
            return self._content.decode("utf-8", errors="replace")

    def json(self, **kwargs):
        try:
            return _json.loads(self.text, **kwargs)
        except _json.JSONDecodeError as e:
            raise JSONDecodeError(e.msg, e.doc, e.pos, response=self)

    @property
    def ok(self) -> bool:
        try:
            self.raise_for_status()
        except HTTPError:
            return False
        return True

    @property
    def is_redirect(self) -> bool:
        return "location" in self.headers and self.status_code in (301, 302, 303, 307, 308)

    def raise_for_status(self):
        if 400 <= self.status_code < 500:
            raise HTTPError(f"{self.status_code} Client Error: {self.reason} for url: {self.url}", response=self)
        if 500 <= self.status_code < 600:
            raise HTTPError(f"{self.status_code} Server Error: {self.reason} for url: {self.url}", response=self)

    def iter_content(self, chunk_size=1, decode_unicode=False):
        data = self.text if decode_unicode else self._content
        size = chunk_size or len(data) or 1
        for i in range(0, len(data), size):
            yield data[i:i + size]

    def iter_lines(self, chunk_size=512, decode_unicode=False, delimiter=None):
        data = self.text if decode_unicode else self._content
        yield from (data.split(delimiter) if delimiter else data.splitlines())

    def close(self):
        pass

    def __bool__(self):
        return self.ok

    def __enter__(self):
        return self

    def __exit__(self, *args):
        self.close()

    def __repr__(self):
        return f"<Response [{self.status_code}]>"


def _default_headers():
    return CaseInsensitiveDict({
        "User-Agent": f"python-requests/{__version__}",
        "Accept-Encoding": "identity",
        "Accept": "*/*",
    })


def _merge(base, extra):
    out = CaseInsensitiveDict(base or {})
    for k, v in (extra or {}).items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = v
    return out


def _params(params):
    if not params:
        return ""
    if isinstance(params, (str, bytes)):
        return params.decode() if isinstance(params, bytes) else params
    items = params.items() if isinstance(params, Mapping) else params
    flat = []
    for k, v in items:
        if v is None:
            continue
        if isinstance(v, (list, tuple)):
            flat.extend((k, x) for x in v)
        else:
            flat.append((k, v))
    return urlencode(flat)


def _with_params(url, params):
    query = _params(params)
    if not query:
        return url
    parts = urlsplit(url)
    q = f"{parts.query}&{query}" if parts.query else query
    return urlunsplit((parts.scheme, parts.netloc, parts.path, q, parts.fragment))


def _body(data, json, headers):
    if json is not None and not data:
        try:
            body = _json.dumps(json, allow_nan=False).encode("utf-8")
        except ValueError as e:
            raise exceptions.InvalidJSONError(e)
        if "content-type" not in headers:
            headers["Content-Type"] = "application/json"
        return body
    if data is None or data == {} or data == []:
        return None
    if isinstance(data, str):
        return data.encode("utf-8")
    if isinstance(data, (bytes, bytearray)):
        return bytes(data)
    if isinstance(data, (Mapping, list, tuple)):
        if "content-type" not in headers:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        return _params(data).encode("utf-8")
    if hasattr(data, "read"):
        content = data.read()
        return content.encode("utf-8") if isinstance(content, str) else bytes(content)
    raise ValueError(f"cannot send data of type {type(data).__name__}")


def _auth_header(auth):
    user, password = auth
    if isinstance(user, str):
        user = user.encode("latin1")
    if isinstance(password, str):
        password = password.encode("latin1")
    return "Basic " + base64.b64encode(user + b":" + password).decode("ascii")


class Session:
    """A ``requests.Session``: default ``headers``, ``auth`` and ``params``
    applied to every request. Subclasses may override ``request`` (as
    API clients written for the original do)."""

    def __init__(self):
        self.headers = _default_headers()
        self.auth = None
        self.params = {}
        self.verify = True
        self.cert = None
        self.proxies = {}
        self.cookies = {}
        self.hooks = {"response": []}
        self.max_redirects = 30
        self.trust_env = False
        self.stream = False

    def __enter__(self):
        return self

    def __exit__(self, *args):
        self.close()

    def close(self):
        pass

    def mount(self, prefix, adapter):
        pass

    def prepare_request(self, request):
        return request

    def request(self, method, url, params=None, data=None, headers=None, cookies=None, files=None, auth=None,
                timeout=None, allow_redirects=True, proxies=None, hooks=None, stream=None, verify=None,
                cert=None, json=None):
        if files:
            raise NotImplementedError("file uploads (files=) are not supported inside the meshroom sandbox")
        method = str(method).upper()
        url = str(url)
        merged = dict(self.params or {})
        if isinstance(params, Mapping):
            merged.update(params)
            full = _with_params(url, merged)
        else:
            full = _with_params(_with_params(url, merged), params)
        hdrs = _merge(self.headers, headers)
        body = _body(data, json, hdrs)
        auth = auth if auth is not None else self.auth
        if isinstance(auth, tuple) and len(auth) == 2:
            hdrs["Authorization"] = _auth_header(auth)
        elif callable(auth):
            prepared = auth(PreparedRequest(method, full, hdrs, body))
            hdrs = prepared.headers
            body = prepared.body
        if body is not None:
            hdrs["Content-Length"] = str(len(body))
        elif method not in ("GET", "HEAD", "OPTIONS", "DELETE"):
            hdrs["Content-Length"] = "0"
        history = []
        while True:
            resp = _wasi.send(method, full, hdrs, body, timeout)
            resp.request = PreparedRequest(method, full, hdrs, body)
            if not (allow_redirects and resp.is_redirect and method != "HEAD"):
                break
            if len(history) >= self.max_redirects:
                raise TooManyRedirects(f"Exceeded {self.max_redirects} redirects.", response=resp)
            history.append(resp)
            full = urljoin(full, resp.headers["location"])
            if resp.status_code == 303 or (resp.status_code in (301, 302) and method == "POST"):
                method, body = "GET", None
                for k in ("Content-Length", "Content-Type"):
                    hdrs.pop(k, None)
        resp.history = history
        for hook in (hooks or {}).get("response", []) + self.hooks.get("response", []):
            out = hook(resp)
            resp = out if out is not None else resp
        return resp

    def get(self, url, **kwargs):
        kwargs.setdefault("allow_redirects", True)
        return self.request("GET", url, **kwargs)

    def options(self, url, **kwargs):
        kwargs.setdefault("allow_redirects", True)
        return self.request("OPTIONS", url, **kwargs)

    def head(self, url, **kwargs):
        kwargs.setdefault("allow_redirects", False)
        return self.request("HEAD", url, **kwargs)

    def post(self, url, data=None, json=None, **kwargs):
        return self.request("POST", url, data=data, json=json, **kwargs)

    def put(self, url, data=None, **kwargs):
        return self.request("PUT", url, data=data, **kwargs)

    def patch(self, url, data=None, **kwargs):
        return self.request("PATCH", url, data=data, **kwargs)

    def delete(self, url, **kwargs):
        return self.request("DELETE", url, **kwargs)


def session():
    return Session()


def request(method, url, **kwargs):
    with Session() as s:
        return s.request(method=method, url=url, **kwargs)


def get(url, params=None, **kwargs):
    return request("get", url, params=params, **kwargs)


def options(url, **kwargs):
    return request("options", url, **kwargs)


def head(url, **kwargs):
    kwargs.setdefault("allow_redirects", False)
    return request("head", url, **kwargs)


def post(url, data=None, json=None, **kwargs):
    return request("post", url, data=data, json=json, **kwargs)


def put(url, data=None, **kwargs):
    return request("put", url, data=data, **kwargs)


def patch(url, data=None, **kwargs):
    return request("patch", url, data=data, **kwargs)


def delete(url, **kwargs):
    return request("delete", url, **kwargs)


# Imported here, at build time: the sandbox has no filesystem to import from later.
from requests import _wasi  # noqa: E402
