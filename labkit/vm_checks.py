"""Check descriptions of a VM that should run the course web service.

Why this module: the VM assignment's test cells, and the lesson's "check it
yourself" cells, need to say what is wrong with a learner's cloud-init user-data,
startup script or ``gcloud compute instances create`` command, before they spend
money booting a VM that would never serve anything. Each validator returns a list
of problems in plain words (an empty list means no problems found), each saying
what to fix, so a learner is never left with a bare ``False``.

Kept apart from :mod:`labkit.vm_provisioning`, which *builds* the reference
descriptions: the checks accept any answer that works, not only the one we
generate. They depend on it for one thing only, the web service's files
(:func:`~labkit.vm_provisioning.webapp_files`) a working VM must write. Nothing
here talks to Google Cloud.
"""

from __future__ import annotations

import base64
import difflib
import gzip
import re
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from labkit.vm_provisioning import WEBAPP_FILES, webapp_files

__all__ = [
    "GCLOUD_FLAGS",
    "NO_CLOUD_INIT_IMAGE_PROJECTS",
    "schema_check_available",
    "check_user_data",
    "check_startup_script",
    "check_gcloud_command",
    "serves_webapp",
]

# --------------------------------------------------------------------------------------
# cloud-init user-data and startup scripts
# --------------------------------------------------------------------------------------

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


def _closest(word: str, choices: Sequence[str]) -> str:
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


def _schema_problems(text: str) -> list[str]:
    """Run ``cloud-init schema --config-file`` and turn its complaints into problems.

    Tested against cloud-init 22.4 (Debian 12), which prints
    ``Cloud config schema errors: path: message, path: message`` on stderr and exits 1;
    newer releases wrap the same phrase in more text, which this parser skips.
    """
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
    return [
        f"cloud-init's schema check says: {piece.strip()}. Fix that entry (see the cloud-init docs for its module)."
        for piece in pieces
        if piece.strip()
    ]


def _load_cloud_config(text: Any) -> tuple[dict[str, Any] | None, list[str]]:
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
    config, problems = _load_cloud_config(text)
    if config is None:
        return problems
    for key in config:
        if not isinstance(key, str) or key not in CLOUD_CONFIG_KEYS:
            problems.append(
                f"Unknown top-level key {key!r}: cloud-init would ignore it.{_closest(str(key), CLOUD_CONFIG_KEYS)}"
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
        for problem in _schema_problems(text):
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


# --------------------------------------------------------------------------------------
# The gcloud command
# --------------------------------------------------------------------------------------

# Flags of `gcloud compute instances create` the course teaches or learners meet often;
# True means the flag takes a value.
GCLOUD_FLAGS: dict[str, bool] = {
    "--zone": True,
    "--machine-type": True,
    "--image-family": True,
    "--image-project": True,
    "--image": True,
    "--metadata": True,
    "--metadata-from-file": True,
    "--tags": True,
    "--labels": True,
    "--boot-disk-size": True,
    "--boot-disk-type": True,
    "--boot-disk-auto-delete": False,
    "--project": True,
    "--scopes": True,
    "--service-account": True,
    "--no-service-account": False,
    "--no-scopes": False,
    "--network": True,
    "--subnet": True,
    "--network-tier": True,
    "--address": True,
    "--no-address": False,
    "--description": True,
    "--hostname": True,
    "--preemptible": False,
    "--spot": False,
    "--provisioning-model": True,
    "--instance-termination-action": True,
    "--maintenance-policy": True,
    "--shielded-secure-boot": False,
    "--shielded-vtpm": False,
    "--shielded-integrity-monitoring": False,
    "--deletion-protection": False,
    "--format": True,
    "--quiet": False,
    "--async": False,
    "--verbosity": True,
}

METADATA_KEYS = ("startup-script", "user-data", "shutdown-script", "ssh-keys", "enable-oslogin")

_NAME_RE = re.compile(r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?")
_ZONE_RE = re.compile(r"[a-z]+-[a-z]+[0-9]+-[a-z]")
_REGION_RE = re.compile(r"[a-z]+-[a-z]+[0-9]+")


def _instance_name_problems(name: str) -> list[str]:
    if _NAME_RE.fullmatch(name):
        return []
    hints = []
    if len(name) > 63:
        hints.append(f"it has {len(name)} characters (at most 63)")
    if name and not name[0].isalpha():
        hints.append("it must start with a letter")
    if name != name.lower():
        hints.append("it must be lowercase")
    if re.search(r"[^-a-zA-Z0-9]", name):
        hints.append("only letters a-z, digits and '-' are allowed (no '_', '.', spaces)")
    if name.endswith("-"):
        hints.append("it must not end with '-'")
    reason = "; ".join(hints) or "it must match [a-z]([-a-z0-9]*[a-z0-9])?"
    suggestion = re.sub(r"[^-a-z0-9]+", "-", name.lower()).strip("-")
    suggestion = re.sub(r"^[^a-z]+", "", suggestion)[:63].rstrip("-")
    example = f" Try {suggestion!r}." if suggestion and _NAME_RE.fullmatch(suggestion) else ""
    return [f"Instance name {name!r} is not valid: {reason}.{example}"]


def _flag_value_problems(flag: str, value: str) -> list[str]:
    if value == "":
        return [f"{flag} has an empty value: write {flag}=VALUE."]
    if flag == "--zone" and not _ZONE_RE.fullmatch(value):
        if _REGION_RE.fullmatch(value):
            return [f"--zone={value} is a region, not a zone: add the zone letter, e.g. --zone={value}-b."]
        return [f"--zone={value} does not look like a zone (REGION-ZONE such as europe-west1-b or us-central1-a)."]
    if flag == "--metadata-from-file":
        problems = []
        for pair in value.split(","):
            key, sep, path = pair.partition("=")
            if not sep or not key or not path:
                problems.append(f"--metadata-from-file needs KEY=PATH pairs such as user-data=cloud-init.yaml, got {pair!r}.")
            elif key not in METADATA_KEYS:
                problems.append(
                    f"Metadata key {key!r} is not one the VM acts on.{_closest(key, METADATA_KEYS)} "
                    "Use user-data (cloud-init) or startup-script."
                )
        return problems
    if flag == "--metadata":
        return [] if "=" in value else [f"--metadata needs KEY=VALUE pairs, got {value!r}."]
    if flag == "--tags":
        bad = [tag for tag in value.split(",") if not _NAME_RE.fullmatch(tag)]
        return [f"Network tag(s) {bad} are not valid: lowercase letters, digits and '-', starting with a letter."] if bad else []
    if flag == "--boot-disk-size" and not re.fullmatch(r"[0-9]+(GB|TB)?", value):
        return [f"--boot-disk-size={value} should be a size such as 10GB or 20GB."]
    if flag == "--machine-type" and not re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)+", value):
        return [f"--machine-type={value} does not look like a machine type such as e2-small or n2-standard-2."]
    return []


def check_gcloud_command(argv: Sequence[str]) -> list[str]:
    """Problems with a ``gcloud compute instances create`` argv, in plain words; empty means none found.

    Checks the command words, the instance name (GCE's RFC 1035 rule), that every flag
    is ``--flag=value`` or ``--flag value``, that flags are ones this course knows (with
    a suggestion for typos), the zone's shape, and that ``--image-family`` comes with
    the ``--image-project`` that owns it (without it gcloud looks in your own project).
    """
    if isinstance(argv, str) or not isinstance(argv, Sequence):
        return [
            f"The command must be a list of strings (one per word), got {type(argv).__name__}. "
            "Write it as a list, or convert a string with shlex.split(...)."
        ]
    not_str = [arg for arg in argv if not isinstance(arg, str)]
    if not_str:
        return [f"Every word of the command must be a string; these are not: {not_str!r}. Use str(...)."]
    expected = ["gcloud", "compute", "instances", "create"]
    if list(argv[:4]) != expected:
        return [
            f"The command must start with 'gcloud compute instances create NAME', "
            f"it starts with {' '.join(argv[:4])!r}."
        ]
    problems: list[str] = []
    rest = list(argv[4:])
    names: list[str] = []
    flags: dict[str, str] = {}
    index = 0
    while index < len(rest):
        arg = rest[index]
        index += 1
        if not arg.startswith("-"):
            names.append(arg)
            continue
        flag, sep, value = arg.partition("=")
        if flag == "-q":
            flag = "--quiet"
        if not flag.startswith("--"):
            problems.append(f"{arg!r}: long flags start with two dashes, e.g. --zone=europe-west1-b.")
            continue
        if flag not in GCLOUD_FLAGS:
            problems.append(f"Unknown flag {flag!r} for this course's VMs.{_closest(flag, list(GCLOUD_FLAGS))}")
            continue
        takes_value = GCLOUD_FLAGS[flag]
        if takes_value and not sep:
            if index < len(rest) and not rest[index].startswith("--"):
                value = rest[index]
                index += 1
            else:
                problems.append(f"{flag} needs a value: write {flag}=VALUE.")
                continue
        elif not takes_value and sep:
            problems.append(f"{flag} is a switch and takes no value: write just {flag}.")
            continue
        if flag in flags:
            problems.append(f"{flag} is given twice; gcloud would use only the last one. Keep one.")
        flags[flag] = value
        if takes_value:
            problems.extend(_flag_value_problems(flag, value))
    if not names:
        problems.insert(0, "The instance NAME is missing: put it right after 'create', e.g. gcloud compute instances create web-1 ...")
    elif len(names) > 1:
        problems.append(
            f"Found several words that are not flags: {names}. gcloud would create one VM per name; "
            "if some are flag values, write them as --flag=value."
        )
    for name in names:
        problems.extend(_instance_name_problems(name))
    if "--image-family" in flags and "--image-project" not in flags:
        problems.append(
            "--image-family needs --image-project naming the project that publishes it "
            "(e.g. --image-project=debian-cloud for debian-12); otherwise gcloud looks in your own project."
        )
    if "--image" in flags and "--image-family" in flags:
        problems.append("Give either --image or --image-family, not both.")
    if "--image-project" in flags and not ({"--image", "--image-family"} & flags.keys()):
        problems.append("--image-project is set but no --image-family or --image says which image to use.")
    problems.extend(_user_data_image_problems(flags))
    return problems


# Image projects whose Google-built images do not run cloud-init at boot (Google's guest
# agent runs only `startup-script` there), so `user-data` would be silently ignored.
NO_CLOUD_INIT_IMAGE_PROJECTS = {"debian-cloud", "windows-cloud"}


def _user_data_image_problems(flags: Mapping[str, str]) -> list[str]:
    """user-data only helps on an image that runs cloud-init; say so before the VM boots for nothing."""
    metadata = f"{flags.get('--metadata', '')},{flags.get('--metadata-from-file', '')}"
    keys = {item.split("=", 1)[0].strip() for item in metadata.split(",") if item.strip()}
    project = flags.get("--image-project")
    if "user-data" in keys and project in NO_CLOUD_INIT_IMAGE_PROJECTS:
        return [
            f"Images from {project} do not run cloud-init, so the VM would ignore its user-data. "
            "Use an image that runs cloud-init (e.g. --image-family=ubuntu-2204-lts "
            "--image-project=ubuntu-os-cloud), or give a startup-script instead."
        ]
    return []


# --------------------------------------------------------------------------------------
# Would it serve the app?
# --------------------------------------------------------------------------------------


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
    config, problems = _load_cloud_config(user_data_text)
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
