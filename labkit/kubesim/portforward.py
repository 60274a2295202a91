"""port-forward: placeholder, filled in by this issue's work."""
from __future__ import annotations

from . import errors
from .routing import Request, Response, Target


class PortForward:
    def portforward(self, req: Request, t: Target) -> Response:
        raise errors.ApiError(501, "NotImplemented", "portforward is not emulated yet")
