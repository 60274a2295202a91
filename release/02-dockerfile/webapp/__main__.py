"""``python -m webapp``: serve the course web service with Flask's built-in server.

For trying it out and for lessons only: Flask's server handles one thing at a time
and warns that it is not for production. On a VM or in a container the service runs
under gunicorn instead: ``gunicorn --bind 0.0.0.0:8080 webapp.app:app``.
"""

from __future__ import annotations

import sys


def main() -> int:
    """Serve on 0.0.0.0:$PORT; a configuration mistake prints what to fix, not a traceback."""
    try:
        # Imported here, not at the top, so that any error while building the app
        # from the environment (a bad variable's ConfigError is a ValueError) reaches
        # the friendly message below.
        from webapp.app import create_app, load_settings

        settings = load_settings()
        app = create_app()
    except ValueError as error:
        print(f"webapp: configuration error: {error}", file=sys.stderr)
        return 2
    # 0.0.0.0 so the service is reachable from outside a VM or a container.
    app.run(host="0.0.0.0", port=settings.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
