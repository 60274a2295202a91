"""Describe a Compute Engine VM that runs the course web service.

Why this module: a VM is started from a *description* (image, machine type, and a
startup script or cloud-init user-data that turns the bare image into a server). The
lesson on VMs generates those descriptions from Python so learners can read a
working one, then write their own. This module only *builds* descriptions; checking
one (the learner's or ours) is :mod:`labkit.vm_checks`' job; the one check it runs itself, on the
``gcloud`` command it builds, is :mod:`labkit.vm_gcloud_checks`. The web service's files come from
:mod:`labkit.vm_webapp_files` (re-exported here, as the lesson reads them through this module).

Nothing here talks to Google Cloud. The generated ``gcloud`` command is for the
learner to run with their own project, if they have one.

Note for the lesson: ``--tags=http-server`` only opens port 80 through the default
``default-allow-http`` firewall rule; the service listens on 8080 by default, which
needs its own rule (``gcloud compute firewall-rules create allow-webapp
--allow=tcp:8080 --target-tags=http-server``).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence
from typing import Any

import yaml

from labkit.vm_gcloud_checks import check_gcloud_command
from labkit.vm_webapp_files import WEBAPP_FILES, webapp_files

__all__ = [
    "DEFAULT_GREETING",
    "WEBAPP_FILES",
    "webapp_files",
    "systemd_unit",
    "startup_script",
    "cloud_config",
    "user_data",
    "gcloud_create_command",
    "shell_command",
]

DEFAULT_GREETING = "Hello from a virtual machine"
SERVICE_NAME = "webapp.service"

# --------------------------------------------------------------------------------------
# What to run on the machine
# --------------------------------------------------------------------------------------


def _check_port(port: int) -> None:
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise ValueError(f"port must be a whole number from 1 to 65535, got {port!r}")


def _check_app_dir(app_dir: str) -> None:
    # The directory ends up unquoted in a systemd unit, so keep it to plain characters.
    if not isinstance(app_dir, str) or not re.fullmatch(r"/[A-Za-z0-9._/-]*", app_dir) or app_dir == "/":
        raise ValueError(
            f"app_dir must be an absolute directory made of letters, digits, '.', '_', '-' "
            f"and '/', such as '/opt/webapp'; got {app_dir!r}"
        )


def _check_greeting(greeting: str) -> None:
    if not isinstance(greeting, str) or "\n" in greeting or "\r" in greeting:
        raise ValueError(f"greeting must be a one-line string, got {greeting!r}")


def _systemd_quote(assignment: str) -> str:
    """Quote ``NAME=value`` for a systemd ``Environment=`` line.

    systemd reads C-style escapes inside double quotes and expands ``%`` specifiers,
    so a greeting like ``50% "off"`` needs ``\\"`` and ``%%``.
    """
    escaped = assignment.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%")
    return f'"{escaped}"'


def systemd_unit(port: int = 8080, greeting: str = DEFAULT_GREETING, app_dir: str = "/opt/webapp") -> str:
    """The systemd unit that keeps gunicorn serving the app on ``port``.

    A unit rather than a backgrounded command because systemd restarts the service when
    it crashes and starts it again at every boot: that is what makes a VM a server.
    ``DynamicUser`` runs it as a throwaway unprivileged user, not as root.
    """
    _check_port(port)
    _check_greeting(greeting)
    _check_app_dir(app_dir)
    capability = "AmbientCapabilities=CAP_NET_BIND_SERVICE\n" if port < 1024 else ""
    return (
        "[Unit]\n"
        "Description=Course web service (Flask app under gunicorn)\n"
        "Wants=network-online.target\n"
        "After=network-online.target\n"
        "\n"
        "[Service]\n"
        f"WorkingDirectory={app_dir}\n"
        f"Environment={_systemd_quote('APP_GREETING=' + greeting)}\n"
        "Environment=APP_ENV=production\n"
        f"ExecStart={app_dir}/venv/bin/gunicorn --bind 0.0.0.0:{port} --workers 2 webapp.app:app\n"
        "DynamicUser=yes\n"
        f"{capability}"
        "Restart=on-failure\n"
        "\n"
        "[Install]\n"
        "WantedBy=multi-user.target\n"
    )


def _heredoc(target: str, content: str) -> str:
    """A ``cat > target <<'DELIM'`` block; the quoted delimiter stops all expansion."""
    if content == "":
        return f": > {shlex.quote(target)}\n"
    delimiter = "WEBAPP_EOF"
    lines = content.splitlines()
    while delimiter in lines:
        delimiter += "_"
    body = content if content.endswith("\n") else content + "\n"
    return f"cat > {shlex.quote(target)} <<'{delimiter}'\n{body}{delimiter}\n"


def startup_script(port: int = 8080, greeting: str = DEFAULT_GREETING, app_dir: str = "/opt/webapp") -> str:
    """A bash script for GCE's ``startup-script`` metadata that installs and starts the service.

    Compute Engine runs a startup script as root at *every* boot, so each step is safe
    to repeat: packages and the venv are only created when missing, files are simply
    rewritten, and the service is restarted to pick up any change.
    """
    _check_port(port)
    _check_greeting(greeting)
    _check_app_dir(app_dir)
    q_dir = shlex.quote(app_dir)
    parts = [
        "#!/bin/bash\n",
        "# Compute Engine startup script: install and start the course web service.\n",
        "# It runs as root at every boot, so every step below is safe to repeat.\n",
        "set -euo pipefail\n",
        "\n",
        "# 1. Python's venv module (Debian images have python3 but not python3-venv).\n",
        "if ! dpkg -s python3-venv >/dev/null 2>&1; then\n",
        "  apt-get update\n",
        "  DEBIAN_FRONTEND=noninteractive apt-get install -y python3-venv\n",
        "fi\n",
        "\n",
        "# 2. The application files, written verbatim (quoted heredoc delimiters).\n",
        f"mkdir -p {q_dir}/webapp\n",
    ]
    for relative, content in webapp_files().items():
        parts.append(_heredoc(f"{app_dir}/{relative}", content))
    parts += [
        "\n",
        "# 3. A virtual environment with the pinned requirements\n",
        "#    (Debian 12 refuses pip installs into the system Python).\n",
        f"if [ ! -x {q_dir}/venv/bin/python ]; then\n",
        f"  python3 -m venv {q_dir}/venv\n",
        "fi\n",
        f"{q_dir}/venv/bin/pip install --quiet -r {q_dir}/webapp/requirements.txt\n",
        "\n",
        f"# 4. A systemd unit keeps gunicorn serving on port {port}.\n",
        _heredoc(f"/etc/systemd/system/{SERVICE_NAME}", systemd_unit(port, greeting, app_dir)),
        "systemctl daemon-reload\n",
        f"systemctl enable {SERVICE_NAME}\n",
        f"systemctl restart {SERVICE_NAME}\n",
    ]
    return "".join(parts)


def cloud_config(port: int = 8080, greeting: str = DEFAULT_GREETING, app_dir: str = "/opt/webapp") -> dict[str, Any]:
    """cloud-init configuration (as a dict) that installs and starts the service.

    The reference answer for the assignment: packages to install, files to write
    (the app and a systemd unit), and commands to run once at first boot. Unlike a
    startup script it is declarative: cloud-init decides the order and runs it once.
    """
    _check_port(port)
    _check_greeting(greeting)
    _check_app_dir(app_dir)
    write_files: list[dict[str, str]] = [
        {"path": f"{app_dir}/{relative}", "content": content, "permissions": "0644"}
        for relative, content in webapp_files().items()
    ]
    write_files.append(
        {
            "path": f"/etc/systemd/system/{SERVICE_NAME}",
            "content": systemd_unit(port, greeting, app_dir),
            "permissions": "0644",
        }
    )
    return {
        "package_update": True,
        "packages": ["python3-venv"],
        "write_files": write_files,
        "runcmd": [
            f"python3 -m venv {app_dir}/venv",
            f"{app_dir}/venv/bin/pip install --quiet -r {app_dir}/webapp/requirements.txt",
            "systemctl daemon-reload",
            f"systemctl enable --now {SERVICE_NAME}",
        ],
        "final_message": f"The course web service should now answer on port {port}.",
    }


class _ReadableDumper(yaml.SafeDumper):
    """SafeDumper that writes multi-line strings as ``|`` blocks, so files stay readable."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_ReadableDumper.add_representer(str, _represent_str)


def user_data(port: int = 8080, greeting: str = DEFAULT_GREETING, app_dir: str = "/opt/webapp") -> str:
    """The text to pass as ``user-data`` metadata: ``#cloud-config`` then :func:`cloud_config` as YAML.

    Dumped with the safe dumper (only plain YAML types, nothing Python-specific), keys
    in the order written and file contents as literal blocks so a learner can read it.
    """
    body = yaml.dump(
        cloud_config(port, greeting, app_dir),
        Dumper=_ReadableDumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=1000,
    )
    return "#cloud-config\n" + body


# --------------------------------------------------------------------------------------
# How to start it: the gcloud command
# --------------------------------------------------------------------------------------


def gcloud_create_command(
    name: str,
    *,
    zone: str = "europe-west1-b",
    machine_type: str = "e2-small",
    image_family: str = "debian-12",
    image_project: str = "debian-cloud",
    metadata_files: Mapping[str, str] | None = None,
    tags: Sequence[str] = ("http-server",),
) -> list[str]:
    """The ``gcloud compute instances create`` argv that starts the described VM.

    An argv list, not a string, so nothing depends on shell quoting; use
    :func:`shell_command` to show it. ``metadata_files`` maps a metadata key
    (``user-data`` or ``startup-script``) to the local file holding it. Raises
    ValueError with the validator's advice if the result would not be a valid command.
    """
    argv = [
        "gcloud", "compute", "instances", "create", name,
        f"--zone={zone}",
        f"--machine-type={machine_type}",
        f"--image-family={image_family}",
        f"--image-project={image_project}",
    ]
    if tags:
        argv.append("--tags=" + ",".join(tags))
    if metadata_files:
        pairs = ",".join(f"{key}={path}" for key, path in metadata_files.items())
        argv.append(f"--metadata-from-file={pairs}")
    problems = check_gcloud_command(argv)
    if problems:
        raise ValueError("cannot build the gcloud command:\n- " + "\n- ".join(problems))
    return argv


def shell_command(argv: Sequence[str]) -> str:
    """``argv`` as one shell command, quoted safely, one flag per line for reading.

    Quoting uses :func:`shlex.join` rules, so pasting the result into bash runs
    exactly ``argv``.
    """
    lines: list[list[str]] = [[]]
    for arg in argv:
        if arg.startswith("--") and lines[-1]:
            lines.append([])
        lines[-1].append(shlex.quote(arg))
    return " \\\n    ".join(" ".join(line) for line in lines)
