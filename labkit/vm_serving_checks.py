"""Would a VM booted from this user-data serve the course web service?

Why a module of its own: a user-data file can be valid cloud-config and still never serve the
app (a file not written, a unit not enabled, another port or greeting). This follows what
cloud-init and systemd would do with it and says, in plain words, what would be missing. It
accepts any user-data that works, not only the one :mod:`labkit.vm_provisioning` builds.
Lessons reach it through :mod:`labkit.vm_checks`.
"""
from __future__ import annotations

import base64
import gzip
import re
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from labkit.vm_user_data_checks import load_cloud_config
from labkit.vm_webapp_files import WEBAPP_FILES, webapp_files
__all__ = ["serves_webapp"]



def _decoded_content(entry: Mapping[str, Any]) -> str | None:
    """The text a write_files entry writes, undoing ``encoding: b64`` / ``gz+b64``."""
    content = entry.get("content")
    if not isinstance(content, str):
        return None
    encoding = str(entry.get("encoding", "text/plain")).lower()
    try:
        if encoding in ("b64", "base64"):
            return base64.b64decode(content).decode("utf-8")
        if encoding in ("gz+b64", "gzip+base64", "gz+base64", "gzip+b64"):
            return gzip.decompress(base64.b64decode(content)).decode("utf-8")
    except (ValueError, OSError):
        return None
    return content


def _command_text(item: Any) -> str:
    if isinstance(item, list):
        return " ".join(str(part) for part in item)
    return str(item)


def _env_assignments(text: str, name: str) -> list[str]:
    """Values given to ``name`` by systemd Environment= lines, env files or shell exports in ``text``."""
    values: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        line = re.sub(r"^(Environment\s*=\s*|export\s+)", "", line)
        if name not in line:
            continue
        try:
            words = shlex.split(line)
        except ValueError:
            continue
        for word in words:
            if word.startswith(name + "="):
                values.append(word[len(name) + 1:].replace("%%", "%"))
    return values


_UNIT_DIRS = ("/etc/systemd/system/", "/lib/systemd/system/", "/usr/lib/systemd/system/")


def serves_webapp(user_data_text: str, port: int, greeting: str) -> list[str]:
    """What stops this cloud-config from actually serving the web service; empty means nothing found.

    Checks the parts a VM needs, in the order it needs them: every file of
    :func:`webapp_files` written unchanged, the requirements installed with
    ``pip install -r`` (from a venv: Debian 12 refuses pip into the system Python),
    something started that listens on ``port`` (a unit where systemd looks for units,
    reloaded before it is started, started after the install), and ``APP_GREETING`` set
    to ``greeting``.
    """
    config, problems = load_cloud_config(user_data_text)
    if config is None:
        return problems + ["Fix the user-data first; until it parses, nothing else can be checked."]
    problems = []
    entries = config.get("write_files") or []
    entries = [entry for entry in entries if isinstance(entry, dict)] if isinstance(entries, list) else []
    runcmd = config.get("runcmd") or []
    commands = [_command_text(item) for item in runcmd] if isinstance(runcmd, list) else []
    written = {str(entry.get("path", "")): _decoded_content(entry) for entry in entries}

    requirements_path = None
    for relative, expected in webapp_files().items():
        matches = [path for path in written if path.endswith("/" + relative)]
        if not matches:
            problems.append(
                f"No write_files entry writes {relative}: add one with path '<app dir>/{relative}' "
                f"and the content of webapp_files()[{relative!r}]."
            )
            continue
        path = matches[0]
        if relative.endswith("requirements.txt"):
            requirements_path = path
        content = written[path]
        if content is None or content.rstrip("\n") != expected.rstrip("\n"):
            problems.append(
                f"{path} is written but its content differs from the repository's {relative}: "
                f"use webapp_files()[{relative!r}] unchanged."
            )
    app_dirs = {path[: -len("/webapp/app.py")] for path in written if path.endswith("/webapp/app.py")}

    pip_commands = [cmd for cmd in commands if re.search(r"\bpip3?\b.*\binstall\b.*(\s-r\s|\s--requirement[\s=])", cmd)]
    wanted = requirements_path or "requirements.txt"
    if not any(wanted in cmd for cmd in pip_commands):
        problems.append(
            f"No runcmd installs the requirements: add a command like '<venv>/bin/pip install -r {wanted}'."
        )
    else:
        for cmd in pip_commands:
            first = shlex.split(cmd)[0] if cmd.strip() else ""
            if first in ("pip", "pip3", "python3", "python", "sudo") and "--break-system-packages" not in cmd:
                problems.append(
                    f"'{cmd}' installs into the system Python, which Debian 12 refuses "
                    "(error: externally-managed-environment). Make a venv (python3 -m venv <app dir>/venv) "
                    "and run <app dir>/venv/bin/pip instead."
                )
    venv_at = next((i for i, cmd in enumerate(commands) if re.search(r"-m\s+venv\b", cmd)), None)
    if venv_at is not None and any(cmd in pip_commands for cmd in commands[:venv_at]):
        problems.append(
            f"'{commands[venv_at]}' runs after the venv's pip is used: make the venv first, then install into it."
        )
    if venv_at is not None:
        packages = config.get("packages") or []
        names = {p if isinstance(p, str) else (p[0] if isinstance(p, list) and p else "") for p in packages} if isinstance(packages, list) else set()
        if not names & {"python3-venv", "python3-full"}:
            problems.append(
                "runcmd makes a venv but 'python3-venv' is not in packages; Debian images lack it, so "
                "'python3 -m venv' would fail. Add python3-venv to packages."
            )

    port_re = re.compile(rf"(?<![0-9]){port}(?![0-9])")
    units = {path: text for path, text in written.items() if path.endswith(".service") and text}
    unit_on_port = [path for path, text in units.items() if port_re.search(text)]
    runs_directly = [cmd for cmd in commands if re.search(r"gunicorn|-m\s+webapp|flask\s+run", cmd)]
    if not unit_on_port and not any(port_re.search(cmd) for cmd in runs_directly):
        found_ports = sorted({m for text in units.values() for m in re.findall(r"0\.0\.0\.0:(\d+)|PORT=(\d+)", text)})
        seen = ", ".join(p for pair in found_ports for p in pair if p)
        problems.append(
            f"Nothing starts the service on port {port}: "
            + (f"the systemd unit uses port {seen} instead. " if seen else "")
            + f"Write a systemd unit whose ExecStart runs gunicorn with --bind 0.0.0.0:{port}."
        )
    elif unit_on_port:
        unit_name = Path(unit_on_port[0]).name
        starts = [
            cmd for cmd in commands
            if "systemctl" in cmd and unit_name.removesuffix(".service") in cmd
            and re.search(r"\b(start|restart|enable\s+--now|--now\s+enable)\b", cmd)
        ]
        if not starts:
            problems.append(
                f"The unit {unit_name} is written but nothing starts it: add runcmd "
                f"'systemctl daemon-reload' and 'systemctl enable --now {unit_name}'."
            )
        else:
            start_at = commands.index(starts[0])
            if not any(re.search(r"systemctl\s+daemon-reload", cmd) for cmd in commands[:start_at]):
                problems.append(
                    f"Run 'systemctl daemon-reload' before '{starts[0]}', so that systemd reads the new unit first."
                )
            if any(cmd in pip_commands for cmd in commands[start_at + 1:]):
                problems.append(
                    f"'{starts[0]}' runs before the requirements are installed: install them first, then start the service."
                )
        if not unit_on_port[0].startswith(_UNIT_DIRS):
            problems.append(
                f"{unit_on_port[0]}: systemd does not look for units there. Write the unit to /etc/systemd/system/{unit_name}."
            )
        text = units[unit_on_port[0]]
        if app_dirs and not any(f"WorkingDirectory={d}" in text for d in app_dirs):
            problems.append(
                f"The unit {unit_name} has no WorkingDirectory={sorted(app_dirs)[0]}: gunicorn "
                "could not import webapp.app. Add that line to [Service]."
            )

    # Settings live in units, env files or commands, not in the app's own source.
    app_paths = {path for path in written if any(path.endswith("/" + rel) for rel in WEBAPP_FILES)}
    searched = "\n".join([*(t for p, t in written.items() if t and p not in app_paths), *commands])
    values = _env_assignments(searched, "APP_GREETING")
    if not values:
        problems.append(
            f"APP_GREETING is never set: add Environment=\"APP_GREETING={greeting}\" to the systemd unit's [Service] section."
        )
    elif greeting not in values:
        problems.append(f"APP_GREETING is set to {values[0]!r}, but the greeting should be {greeting!r}.")
    return problems
