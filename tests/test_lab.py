"""`make lab` serves JupyterLab over the whole course, opening at the start notebook.

The browser check drives Debian's Chromium with Playwright, as a learner's
browser would: the start notebook must render with its title. It is skipped
only where no Chromium or Playwright is installed (`.ci/run` installs both).
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest
import requests

from conftest import REPO_ROOT, skip_unless_ci

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def lab() -> Iterator[tuple[str, str]]:
    port, token = free_port(), secrets.token_hex(8)
    args = f"--no-browser --port={port} --ServerApp.ip=127.0.0.1 --ServerApp.token={token}"
    process = subprocess.Popen(
        ["make", "lab", f"LAB_ARGS={args}"],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if requests.get(f"{base}/api/status", params={"token": token}, timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                output = process.stdout.read() if process.poll() is not None else "(still running)"
                pytest.fail(f"`make lab` did not serve JupyterLab:\n{output}")
            time.sleep(0.5)
        yield base, token
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def test_lab_opens_at_the_start_notebook(lab: tuple[str, str]) -> None:
    base, token = lab
    response = requests.get(f"{base}/", params={"token": token}, allow_redirects=False, timeout=10)
    assert response.status_code in (301, 302)
    assert "/lab/tree/notebooks/00-start-here.ipynb" in response.headers["Location"]


def test_lab_serves_the_whole_course(lab: tuple[str, str]) -> None:
    base, token = lab
    for path in ("notebooks/00-start-here.ipynb", "release", "README.md"):
        response = requests.get(f"{base}/api/contents/{path}", params={"token": token, "content": 0}, timeout=10)
        assert response.status_code == 200, f"{path}: {response.status_code}"


def test_start_notebook_renders_in_a_browser(lab: tuple[str, str]) -> None:
    try:
        from playwright import sync_api as playwright_api
    except ImportError:
        skip_unless_ci("Playwright is not installed (pip install playwright)")
    if not os.path.exists(CHROMIUM):
        skip_unless_ci("Debian's chromium is not installed (apt-get install chromium)")
    base, token = lab
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )
        try:
            page = browser.new_page()
            page.goto(f"{base}/?token={token}")
            heading = page.get_by_role("heading", name="Start here: virtual machines, containers and Kubernetes")
            heading.wait_for(timeout=90_000)
            current_tab = page.locator(".jp-mod-current .lm-TabBar-tabLabel", has_text="00-start-here.ipynb")
            current_tab.first.wait_for(timeout=30_000)
            page.screenshot(path=str(REPO_ROOT / ".pytest_cache" / "lab-start-notebook.png"))
        finally:
            browser.close()
