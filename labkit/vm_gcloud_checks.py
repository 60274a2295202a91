"""Check a ``gcloud compute instances create`` command before anyone runs it.

Why a module of its own: a learner's command is checked flag by flag (known flags, their
values, an instance name and zone Compute Engine accepts, user-data only on images that run
cloud-init), and :mod:`labkit.vm_provisioning` checks the command it builds the same way. It
needs nothing else of the VM code, so both can import it without a cycle. Problems come in
plain words (empty: none found). Lessons reach it through :mod:`labkit.vm_checks`.
"""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from labkit.vm_user_data_checks import did_you_mean
__all__ = ["GCLOUD_FLAGS", "METADATA_KEYS", "NO_CLOUD_INIT_IMAGE_PROJECTS", "check_gcloud_command"]


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
                    f"Metadata key {key!r} is not one the VM acts on.{did_you_mean(key, METADATA_KEYS)} "
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
            problems.append(f"Unknown flag {flag!r} for this course's VMs.{did_you_mean(flag, list(GCLOUD_FLAGS))}")
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
