"""the proxy subresources: placeholder, filled in by this issue's work."""
from __future__ import annotations

from . import errors
from .routing import Request, Response, Target


class Proxy:
    def proxy(self, req: Request, t: Target) -> Response:
        raise errors.ApiError(501, "NotImplemented", "proxy is not emulated yet")
