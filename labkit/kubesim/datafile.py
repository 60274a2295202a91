"""Reading the emulator's own data files (``data/*.yaml``), with libyaml where it is installed.

Why: every emulator that starts reads about 100 kB of them (the kind and GKE states, the
image catalogue, the printers, the resource table, the kubelet's stages). PyYAML's pure-Python
parser takes about 0.35 s for that; its libyaml parser (``CSafeLoader``, in PyYAML's wheels)
about 0.04 s, for the same objects. Each of the grader's kernels starts an emulator, and so does
a learner's notebook. Only files we ship are read this way: a learner's manifests go through
``decoding``, whose error messages are the pure parser's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(path: Path) -> Any:
    """The YAML document in `path`, loaded safely (the same objects as ``yaml.safe_load``)."""
    return yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER)
