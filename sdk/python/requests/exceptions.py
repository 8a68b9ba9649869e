"""The exceptions of ``requests`` that hooks catch, with the same names and
the same hierarchy."""

import json as _json


class RequestException(IOError):
    """Something went wrong with a request."""

    def __init__(self, *args, response=None, request=None):
        super().__init__(*args)
        self.response = response
        self.request = request if request is not None else getattr(response, "request", None)


class HTTPError(RequestException):
    """The server answered with a 4xx or 5xx status (``raise_for_status``)."""


class ConnectionError(RequestException):
    """The server could not be reached (refused, or not allowed by the sandbox's egress policy)."""


class Timeout(RequestException):
    """The request timed out."""


class ConnectTimeout(ConnectionError, Timeout):
    """Connecting timed out."""


class ReadTimeout(Timeout):
    """The server did not answer in time."""


class URLRequired(RequestException):
    """A valid URL is required."""


class TooManyRedirects(RequestException):
    """Too many redirects."""


class InvalidURL(RequestException, ValueError):
    """The URL is malformed."""


class InvalidHeader(RequestException, ValueError):
    """A header name or value is not valid."""


class InvalidJSONError(RequestException):
    """A JSON error occurred."""


class JSONDecodeError(InvalidJSONError, _json.JSONDecodeError):
    """The body is not JSON."""

    def __init__(self, *args, **kwargs):
        _json.JSONDecodeError.__init__(self, *args)
        InvalidJSONError.__init__(self, *self.args, **kwargs)
