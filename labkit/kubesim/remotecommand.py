"""exec and attach: placeholder, filled in by this issue's work."""
from __future__ import annotations

from . import errors
from .routing import Request, Response, Target


class RemoteCommand:
    def exec_command(self, req: Request, t: Target) -> Response:
        raise errors.ApiError(501, "NotImplemented", "exec_command is not emulated yet")

    def attach(self, req: Request, t: Target) -> Response:
        raise errors.ApiError(501, "NotImplemented", "attach is not emulated yet")
