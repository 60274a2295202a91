"""Check a VM's cloud-init user-data and startup script before anyone boots it.

Why a module of its own: the VM assignment's test cells and the lesson's "check it yourself"
cells must say what is wrong with a learner's user-data or startup script (a typo in a key, a
``write_files`` entry without a path, a script without ``#!``) before they spend money on a VM
that would never serve anything. Each check returns problems in plain words (empty: none
found), each saying what to fix. cloud-init's own schema check runs too when it is installed.
Lessons reach these through :mod:`labkit.vm_checks`.
"""
from __future__ import annotations

import difflib
import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from .cloud_init_schema import schema_errors

__all__ = ["CLOUD_CONFIG_KEYS", "schema_check_available", "check_user_data", "check_startup_script", "did_you_mean",
           "load_cloud_config"]

#: Common top-level keys of cloud-config (cloud-init module settings).
CLOUD_CONFIG_KEYS = (
    "packages", "package_update", "package_upgrade", "package_reboot_if_required",
    "write_files", "runcmd", "bootcmd", "users", "groups", "ssh_authorized_keys",
    "ssh_pwauth", "ssh_deletekeys", "ssh_keys", "disable_root", "chpasswd", "password",
    "apt", "snap", "timezone", "hostname", "fqdn", "prefer_fqdn_over_hostname",
    "manage_etc_hosts", "preserve_hostname", "locale", "final_message", "mounts",
    "swap", "growpart", "resize_rootfs", "disk_setup", "fs_setup", "ntp", "power_state",
    "phone_home", "rsyslog", "ca_certs", "keyboard", "merge_how", "merge_type", "system_info",
    "output", "random_seed", "seed_random", "apk_repos", "yum_repos", "zypper",
)


def did_you_mean(word: str, choices: Sequence[str]) -> str:
    """`` Did you mean X?`` for the closest of ``choices`` to a mistyped ``word``, or nothing (the VM checks share it)."""
    match = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" Did you mean {match[0]!r}?" if match else ""


def schema_check_available() -> bool:
    """Whether cloud-init's own schema check (``cloud-init schema``) can run here.

    Without it, :func:`check_user_data` still checks the header, the YAML, the
    top-level keys and the shape of ``write_files``, ``runcmd`` and ``packages``,
    but misses everything else cloud-init's JSON schema knows: the types and allowed
    values inside the other modules (``users``, ``apt``, ``power_state``, ...). Install
    the Debian/Ubuntu ``cloud-init`` package to get the full check.
    """
    return shutil.which("cloud-init") is not None


def _schema_problems(text: str, config: Any = None) -> list[str]:
    """cloud-init's schema check of ``text`` (parsed: ``config``), its complaints turned into problems.

    In this interpreter when it can (:mod:`labkit.cloud_init_schema`: the same schema and
    rules, without starting cloud-init), else by running ``cloud-init schema --config-file``.
    Tested against cloud-init 22.4 (Debian 12), which prints
    ``Cloud config schema errors: path: message, path: message`` on stderr and exits 1;
    newer releases wrap the same phrase in more text, which this parser skips.
    """
    errors = schema_errors(config) if isinstance(config, dict) else None
    if errors is not None:
        return [_schema_problem(error) for error in errors]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "user-data.yaml")
        path.write_text(text, encoding="utf-8")
        try:
            result = subprocess.run(
                ["cloud-init", "schema", "--config-file", str(path)],
                capture_output=True, text=True, timeout=120,
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            return [f"cloud-init's schema check could not run ({error}); the other checks still apply."]
    if result.returncode == 0:
        return []
    output = (result.stderr + "\n" + result.stdout).replace(str(path), "user-data")
    found = re.search(r"Cloud config schema errors:\s*(.*)", output, flags=re.S)
    if not found:
        detail = " ".join(output.split()) or f"exit status {result.returncode}"
        return [f"cloud-init's schema check rejected the user-data: {detail}"]
    body = found.group(1).strip().splitlines()[0] if found.group(1).strip() else ""
    # Errors are joined with ", "; split only where the next one starts with "key.path: ".
    pieces = re.split(r", (?=[A-Za-z_][\w.-]*: )", body)
    return [_schema_problem(piece.strip()) for piece in pieces if piece.strip()]


def _schema_problem(error: str) -> str:
    return f"cloud-init's schema check says: {error}. Fix that entry (see the cloud-init docs for its module)."


def load_cloud_config(text: Any) -> tuple[dict[str, Any] | None, list[str]]:
    """Header and YAML checks shared by the validators; returns (config or None, problems)."""
    if not isinstance(text, str):
        return None, [f"user-data must be text (a str), got {type(text).__name__}."]
    first_line = text.split("\n", 1)[0].rstrip("\r")
    problems: list[str] = []
    if first_line != "#cloud-config":
        if first_line.startswith("#!"):
            problems.append(
                "The first line is a shebang, so cloud-init would run this as a shell script, "
                "not read it as cloud-config. Make the first line exactly '#cloud-config'."
            )
        elif first_line.replace(" ", "").lower() == "#cloud-config":
            problems.append(
                f"The first line is {first_line!r}; cloud-init only recognises exactly "
                "'#cloud-config' (no spaces, lowercase). Fix the first line."
            )
        else:
            problems.append(
                f"The first line must be exactly '#cloud-config' (it is {first_line!r}); without it "
                "cloud-init ignores the whole file. Add it as the first line."
            )
    try:
        config = yaml.safe_load(text)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        what = error.problem or error.context or "invalid YAML"
        problems.append(
            f"The YAML does not parse{where}: {what}. Check the indentation and brackets there "
            "(YAML indents with spaces, never tabs)."
        )
        return None, problems
    except yaml.YAMLError as error:
        problems.append(f"The YAML does not parse: {error}.")
        return None, problems
    if config is None:
        problems.append("The cloud-config is empty: add settings such as 'packages:' and 'runcmd:'.")
        return None, problems
    if not isinstance(config, dict):
        problems.append(
            f"The top level must be a mapping of settings (key: value lines), but it is a "
            f"{type(config).__name__}. Start lines with keys such as 'packages:' at column 1."
        )
        return None, problems
    return config, problems


def _check_write_files(entries: Any) -> list[str]:
    if not isinstance(entries, list):
        return ["write_files must be a list: start each file with '- path: ...' under 'write_files:'."]
    problems: list[str] = []
    for index, entry in enumerate(entries):
        label = f"write_files entry {index + 1}"
        if not isinstance(entry, dict):
            problems.append(f"{label} must be a mapping with 'path' and 'content', got {entry!r}.")
            continue
        path = entry.get("path")
        if path:
            label += f" ({path})"
        if not isinstance(path, str) or not path:
            problems.append(f"{label} has no 'path': add the absolute path of the file to write.")
        elif not path.startswith("/"):
            problems.append(f"{label}: path {path!r} must be absolute (start with '/').")
        if "content" not in entry:
            problems.append(f"{label} has no 'content': add the file's text (use 'content: |' for several lines).")
        elif not isinstance(entry["content"], str):
            problems.append(
                f"{label}: content must be text, got {type(entry['content']).__name__}. "
                "Use 'content: |' followed by indented lines."
            )
        if "permissions" in entry:
            perms = entry["permissions"]
            if isinstance(perms, int) and not isinstance(perms, bool):
                problems.append(
                    f"{label}: permissions was read as the number {perms} (YAML reads 0644 as an "
                    f"octal or decimal number). Quote it: permissions: '0{perms:o}'."
                    if perms < 0o10000 else
                    f"{label}: permissions {perms} is a number; write a quoted octal string such as '0644'."
                )
            elif not isinstance(perms, str) or not re.fullmatch(r"0?[0-7]{3,4}", perms):
                problems.append(
                    f"{label}: permissions {perms!r} is not an octal mode. Write a quoted string such as '0644'."
                )
    return problems


def _check_runcmd(items: Any) -> list[str]:
    if not isinstance(items, list):
        return ["runcmd must be a list of commands: put each one on its own '- ' line under 'runcmd:'."]
    problems: list[str] = []
    for index, item in enumerate(items):
        if isinstance(item, str):
            continue
        if isinstance(item, list) and item and all(isinstance(part, str) for part in item):
            continue
        problems.append(
            f"runcmd item {index + 1} is {item!r}: each command must be a string "
            "('- systemctl restart x') or a list of strings ('- [systemctl, restart, x]'). "
            "Quote numbers and values containing ': '."
        )
    return problems


def _check_packages(items: Any) -> list[str]:
    if not isinstance(items, list):
        return ["packages must be a list of package names: '- python3-venv' lines under 'packages:'."]
    return [
        f"packages item {item!r} is not a package name: write each package as a plain string."
        for item in items
        if not (isinstance(item, str) or (isinstance(item, list) and all(isinstance(p, str) for p in item)))
    ]


def check_user_data(text: str, *, schema: bool = True) -> list[str]:
    """Problems with cloud-init user-data ``text``, in plain words; an empty list means none found.

    Checks the ``#cloud-config`` header, that the YAML parses (with line and column),
    the top-level keys (an unknown key is almost always a typo that cloud-init would
    silently ignore), and the shape of ``write_files``, ``runcmd`` and ``packages``.
    When ``schema`` is true and :func:`schema_check_available`, cloud-init's own
    schema check runs too and its complaints are added.
    """
    config, problems = load_cloud_config(text)
    if config is None:
        return problems
    for key in config:
        if not isinstance(key, str) or key not in CLOUD_CONFIG_KEYS:
            problems.append(
                f"Unknown top-level key {key!r}: cloud-init would ignore it.{did_you_mean(str(key), CLOUD_CONFIG_KEYS)}"
            )
    reported: set[str] = set()
    for key, checker in (("write_files", _check_write_files), ("runcmd", _check_runcmd),
                         ("bootcmd", _check_runcmd), ("packages", _check_packages)):
        if key in config:
            found = [p.replace("runcmd", key, 1) if key == "bootcmd" else p for p in checker(config[key])]
            if found:
                reported.add(key)
            problems.extend(found)
    for key in ("package_update", "package_upgrade"):
        if key in config and not isinstance(config[key], bool):
            problems.append(f"{key} must be true or false, got {config[key]!r}.")
    header_ok = text.split("\n", 1)[0].rstrip("\r") == "#cloud-config"
    if schema and header_ok and schema_check_available():
        for problem in _schema_problems(text, config):
            # Skip cloud-init's restatement of a key we have already explained.
            key = re.match(r"cloud-init's schema check says: ([\w-]+)", problem)
            if not (key and key.group(1) in reported):
                problems.append(problem)
    return problems


def check_startup_script(text: str) -> list[str]:
    """Problems with a bash startup script, in plain words; an empty list means none found.

    Checks the shebang (the guest agent needs it to pick an interpreter), the syntax
    with ``bash -n`` (which parses without running anything), and that the script stops
    at the first error: without ``set -e`` a failed ``apt-get`` goes unnoticed and the
    service silently never starts.
    """
    if not isinstance(text, str):
        return [f"The startup script must be text (a str), got {type(text).__name__}."]
    if not text.strip():
        return ["The startup script is empty: start with '#!/bin/bash' and the commands to run."]
    problems: list[str] = []
    first_line = text.split("\n", 1)[0].rstrip("\r")
    if not first_line.startswith("#!"):
        problems.append(
            f"The first line must be a shebang such as '#!/bin/bash' (it is {first_line!r}) "
            "so the machine knows which interpreter runs the script."
        )
    elif not re.fullmatch(r"#!\s*(/usr)?/bin/bash(\s.*)?|#!\s*/usr/bin/env\s+bash(\s.*)?", first_line):
        problems.append(
            f"The shebang {first_line!r} does not run bash; this course's startup scripts are bash. "
            "Use '#!/bin/bash'."
        )
    bash = shutil.which("bash")
    if bash:
        result = subprocess.run([bash, "-n"], input=text, capture_output=True, text=True, timeout=60)
        if result.returncode != 0:
            for line in result.stderr.strip().splitlines():
                line = re.sub(r"^(bash|/\S*bash): ", "", line)
                problems.append(f"bash syntax error: {line}. Fix that line (unclosed quote, if/fi, or heredoc?).")
    if not re.search(r"^\s*set\s+(-\w*e\w*\b|.*-o\s+errexit)", text, flags=re.M):
        problems.append(
            "Add 'set -euo pipefail' near the top so the script stops at the first failing command; "
            "otherwise a failed step goes unnoticed and the service never starts."
        )
    return problems
