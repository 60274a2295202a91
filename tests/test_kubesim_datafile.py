"""The emulator's data files read with libyaml are the very objects the pure-Python parser gives."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from labkit.kubesim import datafile

DATA = sorted((Path(datafile.__file__).parent / "data").glob("*.yaml"))


def test_every_data_file_is_read() -> None:
    assert {p.name for p in DATA} >= {"images.yaml", "kind-cluster.yaml", "gke-cluster.yaml", "printers.yaml",
                                      "resources.yaml", "lifecycle.yaml"}


@pytest.mark.parametrize("path", DATA, ids=lambda p: p.name)
def test_load_yaml_gives_what_safe_load_gives(path: Path) -> None:
    assert datafile.load_yaml(path) == yaml.safe_load(path.read_text(encoding="utf-8"))


def test_libyaml_is_used_where_pyyaml_has_it() -> None:
    if not getattr(yaml, "__with_libyaml__", False):
        pytest.skip("this PyYAML was built without libyaml: the pure parser is used (and is correct, only slower)")
    assert datafile._LOADER is yaml.CSafeLoader
