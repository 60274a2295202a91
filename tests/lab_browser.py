"""JupyterLab in Chromium for tests: `make lab` over a scratch copy of the course, and a notebook driver.

The server is started the way a learner starts it (`make lab`), but on a copy of the
course so that checkpoints, saved outputs and answered notebooks never land in the
repository. Playwright drives Debian's Chromium; cell state is read from JupyterLab's
own notebook model (`window.jupyterapp`, exposed with `--LabApp.expose_app_in_browser`),
which is what the page renders and what a save would write, so a test never guesses
from CSS classes whether an output is an error.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
# What a learner's copy of the course does not have: git state, the environment, caches, test output.
COPY_IGNORE = shutil.ignore_patterns(
    ".git", ".venv", "test-artifacts", ".pytest_cache", "__pycache__", "*.egg-info",
    ".ipynb_checkpoints", "gradebook.db", "submitted", "autograded", "feedback",
)
# Every cell in the DOM (JupyterLab's default renders only what is on screen), so that
# widgets far down a notebook can be clicked and a screenshot shows the whole notebook;
# no blank page after the last cell; each cell's run time in its metadata (for timings).
USER_SETTINGS = {"@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {
    "windowingMode": "none", "scrollPastEnd": False, "recordTiming": True,
}}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class Lab:
    """A running JupyterLab: where it is, its token, the folder it serves and its log."""

    base: str
    token: str
    root: Path
    log: Path

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def copy_course(repo: Path, target: Path) -> Path:
    """A learner's copy of the course: everything but git state, the venv and caches."""
    shutil.copytree(repo, target, ignore=COPY_IGNORE)
    return target


class LabDidNotStart(RuntimeError):
    """`make lab` (or another target) ended or timed out before JupyterLab answered."""


@contextmanager
def serve_make(
    target: str, root: Path, env: dict[str, str] | None = None, extra_args: list[str] = (),
    log: Path | None = None, timeout: float = 180,
) -> Iterator[tuple[str, str]]:
    """`make <target>` in `root` as a user runs it (127.0.0.1, no browser, a token) until JupyterLab answers.

    `USE_ENV=` makes make use the environment running the tests as it is: a test never
    creates or refreshes one. The server's output goes to `log` (a file, never an unread
    pipe that could fill and block it). Yields the base URL and the token.
    """
    port, token = free_port(), secrets.token_hex(8)
    args = " ".join([
        "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1", f"--ServerApp.token={token}", *extra_args,
    ])
    if log is None:
        log = Path(tempfile.mkdtemp(prefix="lab-log-")) / "jupyterlab.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            ["make", "-C", str(root), target, f"USE_ENV={sys.prefix}", f"LAB_ARGS={args}"],
            stdout=out, stderr=subprocess.STDOUT, text=True, start_new_session=True, env=env,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if requests.get(f"{base}/api/status", params={"token": token}, timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                tail = "\n".join(log.read_text(errors="replace").splitlines()[-40:])
                raise LabDidNotStart(f"`make {target}` did not serve JupyterLab:\n{tail}")
            time.sleep(0.5)
        yield base, token
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


@contextmanager
def serve_lab(root: Path, env: dict[str, str], state: Path, timeout: float = 120) -> Iterator[Lab]:
    """`make lab` in `root` for the browser driver; JupyterLab's own state goes to `state`."""
    settings, workspaces, runtime = state / "user-settings", state / "workspaces", state / "runtime"
    for name, value in USER_SETTINGS.items():
        path = settings / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value))
    workspaces.mkdir(parents=True, exist_ok=True)
    extra = [
        "--LabApp.expose_app_in_browser=True",
        f"--LabApp.user_settings_dir={settings}", f"--LabApp.workspaces_dir={workspaces}",
    ]
    log = state / "jupyterlab.log"
    with serve_make("lab", root, {**env, "JUPYTER_RUNTIME_DIR": str(runtime)}, extra, log, timeout) as (base, token):
        yield Lab(base, token, root, log)


# JavaScript run in the page. `window.__panel` is the notebook the driver opened.
_OPEN = """async (path) => {
  const app = window.jupyterapp;
  const panel = await app.commands.execute('docmanager:open', {path, factory: 'Notebook'});
  await panel.context.ready;
  await panel.sessionContext.ready;
  app.shell.collapseLeft();
  window.__panel = panel;
  return panel.sessionContext.session?.kernel?.name ?? null;
}"""
_TAG_CELLS = """() => window.__panel.content.widgets.forEach((cell, i) => cell.node.setAttribute('data-cell-index', i))"""
# Done: the kernel is idle, no prompt shows [*], and every code cell ran or one failed
# (Run All stops there, and the cells after it keep an empty prompt).
_SETTLED = """() => {
  const panel = window.__panel;
  const kernel = panel.sessionContext.session?.kernel;
  if (!kernel || kernel.status !== 'idle') return false;
  let failed = false, unrun = false;
  for (const cell of panel.content.widgets) {
    if (cell.model.type !== 'code') continue;
    const prompt = cell.node.querySelector('.jp-InputPrompt')?.textContent ?? '';
    if (prompt.includes('*')) return false;
    const outputs = cell.model.outputs.toJSON();
    if (outputs.some(o => o.output_type === 'error')) failed = true;
    if (cell.model.executionCount === null && cell.model.sharedModel.getSource().trim()) unrun = true;
  }
  return failed || !unrun;
}"""
_RUN_CELL = """async (index) => {
  const panel = window.__panel;
  panel.content.activeCellIndex = index;
  await window.jupyterapp.commands.execute('notebook:run-cell');
}"""
_CELL_DONE = """(index) => {
  const panel = window.__panel;
  const cell = panel.content.widgets[index];
  const kernel = panel.sessionContext.session?.kernel;
  const prompt = cell.node.querySelector('.jp-InputPrompt')?.textContent ?? '';
  return kernel?.status === 'idle' && cell.model.executionCount !== null && !prompt.includes('*');
}"""
# The notebook's scrolling area, and the window height at which it holds all of it.
_SCROLLER = """const node = window.__panel.content.node;
  const outer = node.classList.contains('jp-WindowedPanel-outer') ? node
    : (node.querySelector('.jp-WindowedPanel-outer') ?? node);"""
_FULL_HEIGHT = f"""() => {{
  {_SCROLLER}
  return Math.ceil(window.innerHeight - outer.getBoundingClientRect().height + outer.scrollHeight + 8);
}}"""
_TO_TOP = f"""() => {{ {_SCROLLER} outer.scrollTop = 0; }}"""
_CLOSE = """async () => {
  const panel = window.__panel;
  if (!panel) return;
  await panel.sessionContext.shutdown();
  panel.dispose();
  window.__panel = null;
}"""


class Notebooks:
    """One Chromium page on JupyterLab, opening notebooks one after another."""

    def __init__(self, page: Any, lab: Lab, width: int = 1280, height: int = 900):
        self.page, self.lab, self.width, self.height = page, lab, width, height
        page.set_viewport_size({"width": width, "height": height})
        page.goto(f"{lab.base}/lab?token={lab.token}&reset")
        page.wait_for_function("() => window.jupyterapp && window.jupyterapp.started", timeout=90_000)
        page.evaluate("async () => { await window.jupyterapp.restored;"
                      " await window.jupyterapp.commands.execute('application:close-all'); }")

    def open(self, path: str) -> None:
        """Open a notebook (relative to the served folder) and wait for its kernel."""
        kernel = self.page.evaluate(_OPEN, path)
        if kernel is None:
            raise AssertionError(f"{path}: no kernel started\n{self.lab.log_tail()}")
        self.page.wait_for_function(
            "() => window.__panel.sessionContext.session?.kernel?.status === 'idle'", timeout=60_000)
        self.page.evaluate(_TAG_CELLS)

    def run_all(self, timeout_s: float) -> None:
        """Run > Run All Cells, then wait until every cell ran or Run All stopped at an error."""
        from playwright.sync_api import TimeoutError as Timeout

        self.page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
        try:
            self.page.wait_for_function(_SETTLED, timeout=timeout_s * 1000, polling=500)
        except Timeout:
            raise AssertionError(f"Run All had not finished after {timeout_s:g} s") from None

    def run_each(self, timeout_s: float) -> None:
        """Run every code cell on its own, in order, so that an error does not stop the rest."""
        from playwright.sync_api import TimeoutError as Timeout

        for index, cell in enumerate(self.model()["cells"]):
            if cell["cell_type"] != "code":
                continue
            self.page.evaluate(_RUN_CELL, index)
            try:
                self.page.wait_for_function(_CELL_DONE, arg=index, timeout=timeout_s * 1000, polling=200)
            except Timeout:
                raise AssertionError(f"cell {index + 1} had not finished after {timeout_s:g} s") from None

    def model(self) -> dict:
        """The notebook as JupyterLab holds it (nbformat JSON, outputs included)."""
        return self.page.evaluate("() => window.__panel.model.toJSON()")

    def cell(self, index: int) -> Any:
        return self.page.locator(f'[data-cell-index="{index}"]')

    def screenshot(self, path: Path) -> Path:
        """The whole notebook in one picture: the window is made as tall as the notebook."""
        path.parent.mkdir(parents=True, exist_ok=True)
        height = min(self.page.evaluate(_FULL_HEIGHT), 30_000)
        self.page.set_viewport_size({"width": self.width, "height": max(height, self.height)})
        self.page.wait_for_timeout(500)
        self.page.evaluate(_TO_TOP)
        self.page.wait_for_timeout(200)
        try:
            self.page.screenshot(path=str(path), full_page=True)
        finally:
            self.page.set_viewport_size({"width": self.width, "height": self.height})
        return path

    def close(self) -> None:
        """Shut the notebook's kernel down and close it without asking to save."""
        self.page.evaluate(_CLOSE)
