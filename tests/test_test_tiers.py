"""`make test-fast` leaves out the slow tiers; a tier that names no module would leave out nothing."""

from __future__ import annotations

import tomllib

from conftest import REPO_ROOT, SLOW_TIERS


def test_every_slow_module_exists_and_every_tier_is_a_registered_marker() -> None:
    config = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    registered = {line.split(":", 1)[0] for line in config["markers"]}
    for module, tier in SLOW_TIERS.items():
        assert (REPO_ROOT / "tests" / module).exists(), f"SLOW_TIERS names {module}, which is not in tests/"
        assert tier in registered, f"{module}'s tier {tier!r} is not a marker in pyproject.toml"
    makefile = (REPO_ROOT / "Makefile").read_text()
    for tier in registered:
        assert f"not {tier}" in makefile, f"make test-fast does not leave out the {tier!r} tier"
