"""Which image family a container's image belongs to: its default environment, its shell and the
files a tutorial expects in it (``rootfs.yaml``, data a reviewer extends without touching code).

Why a family and not a per-image entry: what a learner sees inside ``nginx:1.27``, ``nginx:1.26``
and ``nginx:latest`` is the same Debian userland with the same ``ENV`` lines; the image catalogue
(``data/images.yaml``) says whether an image exists, this says what it holds.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from .. import images

DATA = Path(__file__).parent / "rootfs.yaml"


@dataclass(frozen=True)
class Family:
    """The userland of one kind of image."""

    name: str
    shell: str                                  # ash | bash | none
    os: str
    env: tuple[tuple[str, str], ...]
    dirs: tuple[str, ...]
    files: dict[str, str] = field(default_factory=dict)
    command: tuple[str, ...] = ()               # the image's ENTRYPOINT + CMD (what `ps` shows as PID 1)

    @property
    def busybox(self) -> bool:
        return self.shell == "ash"


def _flat(items: list[Any]) -> list[str]:
    out: list[str] = []
    for item in items:
        out.extend(_flat(item) if isinstance(item, list) else [str(item)])
    return out


@lru_cache(maxsize=1)
def _families() -> tuple[tuple[Family, tuple[str, ...], tuple[str, ...]], ...]:
    raw = yaml.safe_load(DATA.read_text())
    out = []
    for f in raw["families"]:
        env = tuple(tuple(item.split("=", 1)) for item in _flat(f.get("env") or []))
        fam = Family(f["name"], f["shell"], f.get("os", ""), env, tuple(_flat(f.get("dirs") or [])),  # type: ignore[arg-type]
                     dict(f.get("files") or {}), tuple(f.get("command") or ()))
        out.append((fam, tuple(f.get("names") or ()), tuple(f.get("tags") or ())))
    return tuple(out)


@lru_cache(maxsize=1024)
def family(image: str) -> Family:
    """The family of an image reference (``nginx:1.27-alpine`` -> nginx-alpine); ``default`` otherwise."""
    repo, tag, short = images.normalise(image or "")
    for fam, names, tags in _families():
        if not names:
            return fam
        if short not in names and repo not in names:
            continue
        if tags and not any(re.search(t, tag) for t in tags):
            continue
        return fam
    return _families()[-1][0]
