"""Ask gcloud itself whether it accepts a command, without an account, a project or the network.

Why: a course that teaches ``gcloud container clusters create`` should check a learner's command with
the one parser that decides on the day: gcloud's. gcloud parses a command's flags and values
(unknown flags with a "did you mean", integers, choices) before it needs an account; run in a fresh,
empty configuration it then stops with "You do not currently have an active account selected". So
that answer means *gcloud accepted the command*, and nothing was created or billed: there is no
account to bill. The course's own rules (a zone that exists, a registry host that matches the
region) come on top, elsewhere; gcloud does not check those offline.

Safety, in this order:
- a throwaway ``CLOUDSDK_CONFIG`` (no account, no project, whatever the learner's own gcloud has) and
  a throwaway ``HOME`` (``gcloud auth configure-docker`` writes ``~/.docker/config.json``);
- ``core/check_gce_metadata`` off, so gcloud does not look for a VM's credentials on the network;
- prompts off, so a command that would ask never waits.
The answers are cached per command: gcloud takes about a second to start. A grading run shares them
between submissions: with ``LABKIT_PRACTICE_CACHE=<dir>`` (the grader's own folder, which only trusted
code writes, as for practice clusters) each verdict is also kept there as a file, keyed by the gcloud
installation and the command, so the same command from the next submission costs no gcloud at all.
:func:`gcloud_verdicts` asks about several commands at once (in parallel: a plan's four commands cost
about the time of two).
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = ["GcloudVerdict", "gcloud_verdict", "gcloud_verdicts", "gcloud_available"]
CACHE_ENV = "LABKIT_PRACTICE_CACHE"

# gcloud got past its parser: it only lacks an account (or a project) to call Google Cloud with
NEEDS_ACCOUNT = re.compile(r"You do not currently have an active account selected|"
                           r"The required property \[project\] is not currently set|Failed to find attribute \[project\]")
_ERROR_PREFIX = re.compile(r"^ERROR: (\(gcloud[^)]*\) )?")


@dataclass(frozen=True)
class GcloudVerdict:
    """What gcloud said of a command: ``accepted`` True (parsed; it would now call Google Cloud),
    False (refused: ``message`` is gcloud's own sentence), or None (no gcloud on this machine)."""

    accepted: bool | None
    message: str


def gcloud_available() -> bool:
    return shutil.which("gcloud") is not None


def _isolated_env(scratch: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("CLOUDSDK_")}
    env.update(HOME=scratch, CLOUDSDK_CONFIG=os.path.join(scratch, "gcloud"), CLOUDSDK_CORE_DISABLE_PROMPTS="1",
               CLOUDSDK_CORE_CHECK_GCE_METADATA="false", CLOUDSDK_CORE_DISABLE_USAGE_REPORTING="true",
               CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK="true", GOOGLE_APPLICATION_CREDENTIALS="")
    return env


def _first_error(output: str) -> str:
    """gcloud's first error, its continuation lines joined (``unrecognized arguments:`` lists them below),
    without the ``ERROR: (gcloud.x.y)`` prefix and the usage that follows; a crash keeps its wording."""
    lines = output.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("ERROR:")), None)
    if start is None:
        said = [line.strip() for line in lines if line.strip()]
        return said[0] if said else "gcloud refused the command and said nothing"
    words = [_ERROR_PREFIX.sub("", lines[start]).strip()]
    for line in lines[start + 1:]:
        if not line.strip() or line.strip().startswith(("Usage:", "To search", "ERROR:")):
            break
        words.append(line.strip())
    return " ".join(word for word in words if word)


def _cache_file(gcloud: str, argv: tuple[str, ...]) -> Path | None:
    """Where a grading run keeps this command's verdict (None outside one): keyed by the gcloud
    installation (its real path and modification time: another version, another file) and the words."""
    folder = os.environ.get(CACHE_ENV)
    if not folder:
        return None
    real = os.path.realpath(gcloud)
    key = json.dumps([real, os.stat(real).st_mtime_ns, list(argv)])
    return Path(folder) / "gcloud-verdicts" / (hashlib.sha256(key.encode()).hexdigest() + ".json")


@functools.lru_cache(maxsize=512)
def _verdict(argv: tuple[str, ...], timeout: float) -> GcloudVerdict:
    gcloud = shutil.which("gcloud")
    if gcloud is None:
        return GcloudVerdict(None, "gcloud is not installed here, so only the course's own rules checked this command")
    cached = _cache_file(gcloud, argv)
    if cached is not None and cached.is_file():
        try:
            said = json.loads(cached.read_text())
            return GcloudVerdict(said["accepted"], said["message"])
        except (OSError, ValueError, KeyError, TypeError):
            pass   # a torn or foreign file: ask gcloud again
    verdict = _ask(gcloud, argv, timeout)
    if cached is not None and verdict.accepted is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        scratch = cached.with_suffix(f".{os.getpid()}.tmp")
        scratch.write_text(json.dumps(asdict(verdict)))
        os.replace(scratch, cached)   # atomic: several evaluators may share the folder
    return verdict


def _ask(gcloud: str, argv: tuple[str, ...], timeout: float) -> GcloudVerdict:
    with tempfile.TemporaryDirectory(prefix="labkit-gcloud-") as scratch:
        try:
            done = subprocess.run([gcloud, *argv[1:]], capture_output=True, text=True, timeout=timeout,
                                  env=_isolated_env(scratch), stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            return GcloudVerdict(None, f"gcloud took more than {timeout:g} s to answer, so it did not check this command")
    output = done.stderr + done.stdout
    if done.returncode == 0 or NEEDS_ACCOUNT.search(output):
        return GcloudVerdict(True, "gcloud accepts this command (it stopped before calling Google Cloud: no account)")
    return GcloudVerdict(False, _first_error(output))


def gcloud_verdict(argv: Sequence[str], timeout: float = 60.0) -> GcloudVerdict:
    """Does gcloud accept ``argv`` (a list of words starting with ``"gcloud"``)? Runs gcloud with no
    account, in a throwaway configuration, so it never reaches Google Cloud (see the module's notes)."""
    if isinstance(argv, str) or not all(isinstance(word, str) for word in argv):
        raise TypeError("give the command as a list of words, e.g. ['gcloud', 'container', 'clusters', 'list']")
    if not argv or argv[0] != "gcloud":
        raise ValueError(f"a gcloud command starts with 'gcloud', not {(list(argv) or [''])[0]!r}")
    return _verdict(tuple(argv), timeout)


def gcloud_verdicts(commands: Sequence[Sequence[str]], timeout: float = 60.0) -> list[GcloudVerdict]:
    """:func:`gcloud_verdict` of each command, asked in parallel (each gcloud waits mostly on its own start)."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(lambda argv: gcloud_verdict(argv, timeout), commands))
