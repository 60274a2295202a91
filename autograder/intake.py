"""`import`: bring an LMS download into `submitted/<student>/<assignment>/`.

Accepts a zip file or a folder, holding either `<student>_<notebook>.ipynb` files (the
LMS style; anything between the student id and the notebook name, such as Canvas's
numbers, is ignored) or `<student>/<notebook>.ipynb` folders. Every file is reported:
taken, or refused with the reason (path traversal, links, unsafe student ids, unknown
notebooks, duplicates, too large, already submitted with other content). The source
zip or folder is only read.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from .course import Course, GradingError, assignment_info

SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.@-]{0,63}$")
MAX_BYTES = 50 * 1024 * 1024


@dataclass
class IntakeReport:
    """What happened to every file: (name, where it went) or (name, why it was refused)."""

    taken: list[tuple[str, str]] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"took    {name} -> {target}" for name, target in self.taken]
        out += [f"refused {name}: {why}" for name, why in self.refused]
        out.append(f"{len(self.taken)} taken, {len(self.refused)} refused")
        return out


def _entries(source: Path):
    """(name, is_link, size, read) for each file in a zip or under a folder."""
    if source.is_dir():
        for path in sorted(source.rglob("*")):
            if path.is_dir() and not path.is_symlink():
                continue
            name = path.relative_to(source).as_posix()
            yield name, path.is_symlink(), (0 if path.is_symlink() else path.stat().st_size), path.read_bytes
    elif zipfile.is_zipfile(source):
        with zipfile.ZipFile(source) as bundle:
            for info in bundle.infolist():
                if info.is_dir():
                    continue
                is_link = (info.external_attr >> 16) & 0o170000 == 0o120000
                yield info.filename, is_link, info.file_size, (lambda i=info: bundle.read(i))
    else:
        raise GradingError(f"{source} is neither a folder nor a zip file; pass the LMS download (.zip) or a folder of notebooks")


def _match(name: str, notebooks: tuple[str, ...]) -> tuple[str | None, str | None, str | None]:
    """(student, notebook, None) or (None, None, why not)."""
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or "\\" in name:
        return None, None, "path traversal (absolute path or '..'): refused"
    if path.name.startswith(".") or "__MACOSX" in path.parts:
        return None, None, "hidden or system file: ignored"
    if path.suffix != ".ipynb":
        return None, None, "not a notebook (.ipynb)"
    stem = path.stem
    if len(path.parts) >= 2 and stem in notebooks:
        student = path.parts[-2]
    else:
        student = None
        for notebook in sorted(notebooks, key=len, reverse=True):
            if stem.endswith("_" + notebook):
                student = stem[: -len(notebook) - 1].split("_")[0]
                stem = notebook
                break
        if student is None:
            return None, None, f"not named <student>_<notebook>.ipynb for a notebook of this assignment ({', '.join(notebooks)})"
    if not SAFE_ID.match(student) or student in (".", ".."):
        return None, None, f"unsafe student id {student!r}: use letters, digits, '.', '@', '-' (at most 64)"
    return student, stem, None


def import_submissions(course: Course, assignment: str, source: Path, force: bool = False) -> IntakeReport:
    """Copy every acceptable notebook into submitted/; never overwrite a different one unless `force`."""
    info = assignment_info(course, assignment)
    report = IntakeReport()
    chosen: dict[tuple[str, str], tuple[str, bytes]] = {}
    duplicates: set[tuple[str, str]] = set()
    for name, is_link, size, read in _entries(Path(source)):
        if is_link:
            report.refused.append((name, "a symbolic link: refused"))
            continue
        student, notebook, why = _match(name, info.notebooks)
        if why:
            report.refused.append((name, why))
            continue
        if size > MAX_BYTES:
            report.refused.append((name, f"{size} bytes is over the {MAX_BYTES // (1024 * 1024)} MB limit"))
            continue
        key = (student, notebook)
        if key in chosen or key in duplicates:
            duplicates.add(key)
            if key in chosen:
                first, _ = chosen.pop(key)
                report.refused.append((first, f"duplicate: {student} has more than one {notebook}.ipynb; none taken, "
                                              "keep one in the download and import again"))
            report.refused.append((name, f"duplicate: {student} has more than one {notebook}.ipynb; none taken"))
            continue
        chosen[key] = (name, read())
    for (student, notebook), (name, data) in sorted(chosen.items()):
        target = course.step_dir("submitted", student, assignment) / f"{notebook}.ipynb"
        if target.exists() and target.read_bytes() != data and not force:
            report.refused.append((name, f"{target} exists with other content; pass --force to replace it"))
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        report.taken.append((name, str(target.relative_to(course.root))))
    return report
