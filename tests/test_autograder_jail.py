"""The kernel's walls (autograder/jail.py, autograder/sandbox.py): a root from an allow-list.

- a jailed kernel sees only the interpreter, its libraries, the course's packages, its
  slot and a private size-capped /tmp: no other host path (a copy of the course in /srv,
  /run, /home...), nothing it can write but its slot and /tmp;
- its working directory is size-capped by the kernel (a tmpfs), and what it wrote there
  is still there for the grader once it is gone;
- uid locks live in a root-only directory, opened without following links; whatever is
  planted there, `claim_uid` skips it or says what is wrong, never a traceback;
- `--isolation docker` has the same shape (read-only root, capped /tmp, no host path
  but the slot);
- the attack families `writing` and `reading_copies` (autograder/attacks.py), graded
  for real: they hold no more than the answers they wrote deserve.

These need root (CI grades as root); elsewhere they skip.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import time
import uuid
from pathlib import Path

import nbformat
import pytest

from conftest import REPO_ROOT, skip_unless_ci

from autograder import attacks, cohort, sandbox
from autograder.course import Course, GradingError
from autograder.grade import GradeOptions, grade
from autograder.sandbox import DockerIsolation, Limits, ProcessIsolation, Slot

ASSIGNMENT = cohort.ASSIGNMENT


@pytest.fixture(autouse=True)
def _needs_root() -> None:
    if os.geteuid() != 0:
        skip_unless_ci("the kernel's jail is built only as root (CI runs as root)")


@pytest.fixture
def planted_copy():
    """A world-readable copy of the course's source/ where no fixed hide list looks (/srv)."""
    top = Path("/srv") / f"autograder-copy-{uuid.uuid4().hex[:8]}"
    shutil.copytree(REPO_ROOT / "source" / ASSIGNMENT, top / "course" / "source" / ASSIGNMENT)
    for path in [top, *top.rglob("*")]:
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    try:
        yield top
    finally:
        shutil.rmtree(top, ignore_errors=True)


def jailed(tmp_path: Path, code: str, limits: Limits = Limits(), zygote: str | None = None) -> tuple[str, Slot]:
    """Run `code` with python in a fresh jailed slot, as the grader starts a kernel; its output."""
    os.chmod(tmp_path, 0o711)
    isolation = ProcessIsolation(limits=limits, course_root=tmp_path / "course", zygote=zygote)
    slot = Slot(tmp_path / "slot", 0, isolation.uid_for(0))
    slot.reset()
    command = isolation.prefix(slot) + [isolation.python(), "-c", code]
    done = subprocess.run(command, cwd=slot.work, env=isolation.kernel_env(slot), capture_output=True,
                          text=True, timeout=120)
    log = slot.log.read_text(errors="replace") if slot.log.exists() else ""
    assert done.returncode == 0, f"the jailed command failed ({done.returncode}): {done.stderr}{log}"
    return log, slot


PROBE = """
import errno, os, labkit
print('ROOT', ' '.join(sorted(os.listdir('/'))))
print('ETC', ' '.join(sorted(os.listdir('/etc'))))
print('USER', open('/etc/passwd').read().splitlines()[1])
print('PACKAGES', ' '.join(sorted(os.listdir(os.path.dirname(os.path.dirname(labkit.__file__))))))
print('PID', os.getpid())
for path in {paths!r}:
    print('SEEN' if os.path.exists(path) else 'UNSEEN', path)
for path in ('/x', '/etc/x', '/usr/lib/x', os.path.join(os.path.dirname(labkit.__file__), 'x')):
    try:
        open(path, 'w').close()
        print('WROTE', path)
    except OSError as error:
        print('READONLY' if error.errno == errno.EROFS else 'REFUSED', path)
open('kept.txt', 'w').write('written in the jail')
"""


def test_a_kernel_sees_only_the_allow_list(tmp_path: Path, planted_copy: Path) -> None:
    hidden = ["/run", "/run/lock", "/home", "/srv", "/opt", "/var", "/mnt", "/etc/shadow", str(planted_copy),
              str(REPO_ROOT / "source"), str(tmp_path / "course")]
    log, slot = jailed(tmp_path, PROBE.format(paths=hidden))
    lines = log.splitlines()
    facts = dict(line.split(" ", 1) for line in lines if line.split(" ", 1)[0] in ("ROOT", "ETC", "USER", "PACKAGES", "PID"))
    allowed_tops = {"bin", "sbin", "lib", "lib32", "lib64", "libx32", "usr", "dev", "etc", "proc", "tmp"}
    allowed_tops |= {Path(p).parts[1] for p in ProcessIsolation(limits=Limits(), course_root=tmp_path).exposed()}
    assert set(facts["ROOT"].split()) <= allowed_tops, facts["ROOT"]
    assert set(facts["ETC"].split()) <= {"passwd", "group", "hosts", "nsswitch.conf", "ld.so.cache", "localtime"}
    assert facts["USER"].startswith(f"learner:x:{slot.uid}:{slot.uid}:"), facts["USER"]
    # The folder holding labkit shows labkit, webapp and whatever else is exposed there (the
    # repository's own .venv, when the interpreter lives in the repository as `make env` puts it).
    exposed = ProcessIsolation(limits=Limits(), course_root=tmp_path).exposed()
    packages_parent = Path(exposed[[Path(p).name for p in exposed].index("labkit")]).parent
    also = {Path(p).relative_to(packages_parent).parts[0] for p in exposed
            if Path(p).is_relative_to(packages_parent) and Path(p) != packages_parent}
    assert set(facts["PACKAGES"].split()) == {"labkit", "webapp"} | also, "the folder holding labkit must show nothing else"
    assert "source" not in facts["PACKAGES"].split()
    assert facts["PID"] == "1"
    assert [line for line in lines if line.startswith("SEEN")] == [], "host paths outside the allow-list are visible"
    assert [line for line in lines if line.startswith("WROTE") or line.startswith("REFUSED")] == []
    assert (slot.work / "kept.txt").read_text() == "written in the jail", "the grader must read what the kernel wrote"


def test_the_fork_server_path_builds_the_same_root(tmp_path: Path, planted_copy: Path) -> None:
    from autograder import zygote

    os.chmod(tmp_path, 0o711)
    isolation = ProcessIsolation(limits=Limits(), course_root=tmp_path / "course")
    home = Slot(tmp_path / "zygote", -1, None)
    server = zygote.ForkServer(home.root, isolation.kernel_env(home))
    socket_path = server.start()
    assert socket_path, "the fork server did not start"
    try:
        log, _ = jailed(tmp_path, PROBE.format(paths=["/run", "/srv", str(planted_copy)]), zygote=socket_path)
    finally:
        server.stop()
    assert "UNSEEN /run" in log and f"UNSEEN {planted_copy}" in log, log


def test_tmp_and_the_working_directory_are_capped_and_kept(tmp_path: Path) -> None:
    code = (
        "import os\n"
        "def fill(path):\n"
        "    written = 0\n"
        "    try:\n"
        "        with open(path, 'wb') as f:\n"
        "            for _ in range(200):\n"
        "                f.write(b'x' * 1024 * 1024); f.flush(); written += 1\n"
        "    except OSError as error:\n"
        "        print('FULL', path, os.strerror(error.errno), written)\n"
        "        return\n"
        "    print('UNCAPPED', path, written)\n"
        "fill('/tmp/big'); fill('/dev/shm/big')\n"
        "for k in range(4):\n"
        "    fill(f'big{k}')\n"
    )
    log, slot = jailed(tmp_path, code, Limits(work_mb=48, tmp_mb=16))
    assert "UNCAPPED" not in log, log
    full = [line.split() for line in log.splitlines() if line.startswith("FULL")]
    sizes = {words[1]: int(words[-1]) for words in full}
    assert sizes["/tmp/big"] <= 16 and sizes["/dev/shm/big"] <= 16, sizes
    assert sum(sizes[f"big{k}"] for k in range(4)) <= 48, sizes
    assert all("No space left on device" in " ".join(words) for words in full), full
    kept = sum(p.stat().st_size for p in slot.work.iterdir()) / 2**20
    assert 40 <= kept <= 48, f"the grader should find the {kept:.0f} MiB the kernel wrote"
    slot.reset()
    assert list(slot.work.iterdir()) == [] and not os.path.ismount(slot.work)
    slot.release()


def test_a_killed_worker_leaves_no_mount_behind(tmp_path: Path) -> None:
    """A worker killed outright (the OOM killer) cannot unmount its slots: its mount keeper does."""
    work = tmp_path / "slot" / "work"
    code = ("import sys, time\nfrom pathlib import Path\nfrom autograder.sandbox import Slot\n"
            f"slot = Slot(Path({str(tmp_path / 'slot')!r}), 0, 12345)\n"
            "slot.reset(); assert slot.cap(8) is None; slot.reset(); assert slot.cap(8) is None\n"
            "print('capped', flush=True); time.sleep(600)\n")
    worker = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    try:
        assert worker.stdout.readline().strip() == "capped"
        assert os.path.ismount(work)
    finally:
        worker.kill()
        worker.wait()
    for _ in range(100):
        if not os.path.ismount(work):
            break
        time.sleep(0.05)
    assert not os.path.ismount(work), "the dead worker's tmpfs is still mounted"


# --- uid locks ---------------------------------------------------------------------------

@pytest.fixture
def fresh_claims():
    """claim_uid keeps what it claims for the process's life; give this test's claims back."""
    before = dict(sandbox._claimed)
    yield
    for uid, fd in list(sandbox._claimed.items()):
        if uid not in before:
            os.close(fd)
            del sandbox._claimed[uid]


def test_uid_locks_live_in_a_root_only_directory(tmp_path: Path, fresh_claims) -> None:
    locks = tmp_path / "locks"
    locks.mkdir(mode=0o755)
    os.chmod(locks, 0o755)
    uid = sandbox.claim_uid(locks)
    assert stat.S_IMODE(locks.stat().st_mode) == 0o700
    lock = locks / f"uid-{uid}.lock"
    assert stat.S_ISREG(lock.lstat().st_mode) and lock.stat().st_uid == 0
    assert sandbox.LOCK_DIR == Path("/run/autograder")


def test_planted_links_and_folders_are_skipped_not_followed(tmp_path: Path, fresh_claims) -> None:
    locks = tmp_path / "locks"
    locks.mkdir(mode=0o700)
    victim = tmp_path / "victim"
    first = next(sandbox.UID_BASE + n for n in range(4096) if sandbox.UID_BASE + n not in sandbox._claimed)
    (locks / f"uid-{first}.lock").symlink_to(victim)
    (locks / f"uid-{first + 1}.lock").mkdir()
    os.mkfifo(locks / f"uid-{first + 2}.lock")
    uid = sandbox.claim_uid(locks)
    assert uid == first + 3
    assert not victim.exists(), "the grader, as root, created a file where a planted link pointed"


@pytest.mark.parametrize("plant", ["link", "file", "stranger", "missing-parent"])
def test_a_bad_lock_directory_is_a_clear_grading_error(tmp_path: Path, fresh_claims, plant: str) -> None:
    locks = tmp_path / "locks"
    expected = {"link": "symbolic link", "file": "not a directory", "stranger": "belongs to uid 4242",
                "missing-parent": "cannot make"}[plant]
    if plant == "link":
        (tmp_path / "elsewhere").mkdir()
        locks.symlink_to(tmp_path / "elsewhere")
    elif plant == "file":
        locks.write_text("")
    elif plant == "stranger":
        locks.mkdir(mode=0o700)
        os.chown(locks, 4242, 4242)
    else:
        locks = tmp_path / "no" / "such" / "locks"
    with pytest.raises(GradingError, match=expected):
        sandbox.claim_uid(locks)
    if plant == "link":
        assert list((tmp_path / "elsewhere").iterdir()) == [], "a lock was made through the planted link"


# --- docker ------------------------------------------------------------------------------

def test_docker_isolation_has_the_same_walls(tmp_path: Path) -> None:
    isolation = DockerIsolation(limits=Limits(work_mb=32, tmp_mb=8), course_root=tmp_path / "course")
    slot = Slot(tmp_path / "slot", 0, sandbox.GRADER_IMAGE_UID)
    slot.reset()
    try:
        command = isolation.prefix(slot)
        assert os.path.ismount(slot.work), "the container's work directory must be a size-capped tmpfs"
        assert "size=32768k" in Path("/proc/self/mountinfo").read_text().split(str(slot.work), 1)[1].splitlines()[0]
        assert "--read-only" in command and ["--network", "none"] == command[command.index("--network"):][:2]
        assert command[command.index("--tmpfs") + 1].startswith("/tmp:size=8m")
        assert command[command.index("--shm-size") + 1] == "8m"
        volumes = [command[i + 1] for i, arg in enumerate(command) if arg in ("-v", "--volume", "--mount")]
        assert volumes == [f"{slot.work}:{slot.work}:rw", f"{slot.kernel_dir}:{slot.kernel_dir}:rw"]
    finally:
        slot.release()
    assert not os.path.ismount(slot.work)


# --- the attack families, graded -----------------------------------------------------------

def outputs_of(course: Path, student: str, grade_id: str) -> str:
    nb = nbformat.read(course / "autograded" / student / ASSIGNMENT / f"{cohort.NOTEBOOK}.ipynb", as_version=4)
    cell = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id][0]
    return "\n".join(str(o.get("text", "")) + str(o.get("evalue", "")) for o in cell.outputs)


def leftovers() -> list[str]:
    """Files the writing attacks leave on this machine outside their slot."""
    found = []
    for place in [*attacks.SPILL_PLACES, "/tmp", "/dev/shm", "/etc", str(REPO_ROOT / "labkit")]:
        try:
            names = os.listdir(place)
        except OSError:
            continue
        found += [os.path.join(place, n) for n in names if attacks.MARK in n]
    for place in attacks.LOCK_PLACES:
        try:
            entries = list(os.scandir(place))
        except OSError:
            continue
        for entry in entries:
            if entry.is_symlink() and attacks.MARK in os.readlink(entry.path):
                found.append(entry.path)
            if entry.name == f"uid-{attacks.FOLDER_UID}.lock" and entry.is_dir(follow_symlinks=False):
                found.append(entry.path)
    return found


@pytest.fixture(scope="module")
def attacked(tmp_path_factory: pytest.TempPathFactory) -> dict:
    assert leftovers() == [], "clean these up first"
    course = cohort.make_course(REPO_ROOT, tmp_path_factory.mktemp("jail"))
    cases = {**attacks.writing(course), **attacks.reading_copies(course)}
    copy = Path("/srv") / f"autograder-copy-{uuid.uuid4().hex[:8]}"
    shutil.copytree(course / "source", copy / "source")
    for path in [copy, *copy.rglob("*")]:
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    try:
        grade(Course.open(course), ASSIGNMENT, GradeOptions(jobs=2, progress=False,
                                                            limits=Limits(timeout=120, work_mb=64, tmp_mb=16)))
    finally:
        shutil.rmtree(copy, ignore_errors=True)
    left = leftovers()
    for path in left:  # leave the machine as it was, then fail on what was found
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            os.unlink(path)
    return {"course": course, "cases": cases, "scores": cohort.gradebook_scores(course), "left": left}


def test_reading_copies_finds_no_copy_of_the_course(attacked: dict) -> None:
    out = outputs_of(attacked["course"], "copier", "fit-answer")
    assert "COPY-FOUND COPY-NOT-FOUND" in out, f"a copy of the course's solutions was readable: {out}"
    assert attacked["scores"]["copier"]["total"] == 0.0


def test_writing_outside_the_walls_fails_and_leaves_nothing(attacked: dict) -> None:
    out = outputs_of(attacked["course"], "spiller", "fit-answer")
    assert "WROTE" not in out, out
    assert out.count("BLOCKED") >= len(attacks.SPILL_PLACES) + 2 * len(attacks.LOCK_PLACES), out
    assert attacked["left"] == [], f"the kernel left files outside its slot: {attacked['left']}"
    assert attacked["scores"]["spiller"]["total"] == 11.0


def test_filling_the_disk_stops_at_the_caps(attacked: dict) -> None:
    out = outputs_of(attacked["course"], "filler", "fit-answer")
    assert "STOPPED OSError" in out, out
    filled = int(out.split("FILLED-MB", 1)[1].split()[0])
    assert filled <= 64, f"the working directory took {filled} MiB with a 64 MiB cap"
    tmp = dict(line.split()[1:] for line in outputs_of(attacked["course"], "tmpfiller", "fit-answer").splitlines()
               if line.startswith("TMP-FILLED-MB"))
    assert int(tmp["/tmp"]) <= 16 and int(tmp["/dev/shm"]) <= 16, tmp
    assert attacked["scores"]["filler"]["total"] == 11.0
    assert attacked["scores"]["tmpfiller"]["total"] == 11.0


def test_the_cli_limits_reach_the_kernel() -> None:
    """`Limits` travels to the workers as a dict: the new caps must survive the trip."""
    limits = Limits(work_mb=10, tmp_mb=3)
    assert Limits(**limits.as_dict()) == limits


@pytest.fixture(scope="module")
def docker_image() -> str:
    from autograder.image import DEFAULT_BASE, build_image, content_tag, image_exists

    if shutil.which("docker") is None or subprocess.run(["docker", "info"], capture_output=True, timeout=60).returncode:
        skip_unless_ci("no Docker engine reachable (CI starts one)")
    base = os.environ.get("LABKIT_BASE_IMAGE")
    if base is None and not image_exists(content_tag(None)) and not image_exists(DEFAULT_BASE):
        skip_unless_ci(f"no base image: set LABKIT_BASE_IMAGE (CI does) or `docker pull {DEFAULT_BASE}`")
    return build_image(base_image=base)


@pytest.mark.timeout(1800)
def test_docker_isolation_holds_against_the_same_attacks(docker_image: str, tmp_path: Path, planted_copy: Path) -> None:
    course = cohort.make_course(REPO_ROOT, tmp_path / "docker")
    attacks.writing(course)
    attacks.reading_copies(course)
    grade(Course.open(course), ASSIGNMENT, GradeOptions(
        jobs=2, isolation="docker", image=docker_image, progress=False,
        limits=Limits(timeout=240, memory_mb=1024, work_mb=64, tmp_mb=16)))
    scores = cohort.gradebook_scores(course)
    assert "COPY-FOUND COPY-NOT-FOUND" in outputs_of(course, "copier", "fit-answer")
    assert scores["copier"]["total"] == 0.0
    assert "WROTE" not in outputs_of(course, "spiller", "fit-answer")
    filled = int(outputs_of(course, "filler", "fit-answer").split("FILLED-MB", 1)[1].split()[0])
    assert filled <= 64, f"the container's working directory took {filled} MiB with a 64 MiB cap"
    tmp = dict(line.split()[1:] for line in outputs_of(course, "tmpfiller", "fit-answer").splitlines()
               if line.startswith("TMP-FILLED-MB"))
    assert int(tmp["/tmp"]) <= 16 and int(tmp["/dev/shm"]) <= 16, tmp
    assert {scores[s]["total"] for s in ("spiller", "filler", "tmpfiller")} == {11.0}
    assert leftovers() == []
