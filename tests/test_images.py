"""labkit.images without a Docker engine: the build context, the log reading, and plain explanations.

The real build is tests/test_images_build.py.
"""

from __future__ import annotations

import tarfile

import pytest

from labkit import images, startup

DOCKERFILE = """\
ARG BASE_IMAGE=python:3.12-slim
FROM ${BASE_IMAGE}
WORKDIR /app
COPY requirements.txt .
RUN python3 -m venv /opt/venv && /opt/venv/bin/pip install --no-cache-dir -r requirements.txt
COPY . .
USER 10001
EXPOSE 8080
CMD ["/opt/venv/bin/gunicorn", "--bind", "0.0.0.0:8080", "app:app"]
"""


@pytest.fixture
def no_engine(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    for name in ("DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH", "DOCKER_CONTEXT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-docker.sock")


@pytest.fixture
def context(tmp_path):
    root = tmp_path / "ctx"
    (root / "tests").mkdir(parents=True)
    (root / "pkg" / "__pycache__").mkdir(parents=True)
    (root / "app.py").write_text("app = 1\n")
    (root / "requirements.txt").write_text("flask\n")
    (root / "tests" / "test_app.py").write_text("def test(): pass\n")
    (root / "pkg" / "__pycache__" / "m.pyc").write_bytes(b"\0")
    (root / "Dockerfile").write_text("FROM old\n")
    return root


def test_base_image_and_build_args_follow_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LABKIT_BASE_IMAGE", raising=False)
    assert images.base_image() == "python:3.12-slim" and images.build_args() == {}
    monkeypatch.setenv("LABKIT_BASE_IMAGE", "labkit/debian-python:bookworm")
    assert images.base_image() == "labkit/debian-python:bookworm"
    assert images.build_args() == {"BASE_IMAGE": "labkit/debian-python:bookworm"}


def test_webapp_context_is_the_course_web_service() -> None:
    files = images.context_files()
    assert {"app.py", "requirements.txt", "__init__.py"} <= set(files)
    assert not any(name.startswith("tests/") or "__pycache__" in name for name in files)
    assert "tests/test_app.py" in images.context_files(dockerignore=None)


def test_context_files_apply_the_dockerignore(context) -> None:
    assert images.context_files(context) == ["Dockerfile", "app.py", "requirements.txt"]
    assert images.context_files(context, dockerignore=None) == [
        "Dockerfile", "app.py", "pkg/__pycache__/m.pyc", "requirements.txt", "tests/test_app.py",
    ]
    with pytest.raises(FileNotFoundError, match="is not a folder"):
        images.context_files(context / "app.py")


def test_context_tar_holds_the_files_the_new_dockerfile_and_overrides(context) -> None:
    buffer = images.context_tar(DOCKERFILE, context, overrides={"app.py": "app = 2\n", "extra.py": "x = 1\n"})
    with tarfile.open(fileobj=buffer) as archive:
        names = archive.getnames()
        contents = {name: archive.extractfile(name).read().decode() for name in names}
        mtimes = {member.mtime for member in archive.getmembers()}
    assert sorted(names) == [".dockerignore", "Dockerfile", "app.py", "extra.py", "requirements.txt"]
    assert contents["Dockerfile"] == DOCKERFILE  # ours, not the one lying in the folder
    assert contents["app.py"] == "app = 2\n"
    assert contents[".dockerignore"] == images.DEFAULT_DOCKERIGNORE
    assert mtimes == {0}  # the cache sees content changes only
    # The course's copy is untouched.
    assert (context / "app.py").read_text() == "app = 1\n"


def test_context_tar_wants_text(context) -> None:
    with pytest.raises(TypeError, match="The Dockerfile should be text"):
        images.context_tar(b"FROM x", context)  # type: ignore[arg-type]


def test_cache_use_is_read_from_the_builders_log() -> None:
    log = [
        "Step 1/5 : ARG BASE_IMAGE=x", "Step 2/5 : FROM ${BASE_IMAGE}", " ---> 5646dc9ae925",
        "Step 3/5 : WORKDIR /app", " ---> Using cache", " ---> d1985efeccc6",
        "Step 4/5 : COPY . .", " ---> 99ba19817818",
        "Step 5/5 : CMD [\"x\"]", " ---> Running in 73b7d091bbed", "Removing intermediate container 73b7d091bbed",
    ]
    assert images._cache_use(log) == ([3], [4, 5])


def test_what_would_happen_walks_through_every_step() -> None:
    text = images.what_would_happen(DOCKERFILE, port=8080)
    assert "Step 9/9  CMD" in text and "Step 1/9  ARG" in text
    assert "copy those files from the context into a new layer" in text
    assert "run the command in a temporary container" in text
    assert "record it in the image's configuration (no files)" in text
    assert "publish port 8080 on 127.0.0.1, call /healthz" in text


def test_without_an_engine_the_lesson_calls_explain_instead_of_failing(no_engine) -> None:
    report = images.try_webapp(DOCKERFILE)
    assert isinstance(report, startup.Unavailable)
    assert report.reason.startswith("No Docker engine is running")
    assert "Step 5/9  RUN" in report.what_would_happen
    cache = images.rebuild_after_change(DOCKERFILE, "app.py")
    assert isinstance(cache, startup.Unavailable)
    assert "run steps [6, 7, 8, 9] again" in cache.what_would_happen
    with pytest.raises(RuntimeError, match="No Docker engine is running"):
        images.build(DOCKERFILE)
    for shown in (str(report), str(cache)):
        for words in ("Error while fetching", "Connection aborted", "FileNotFoundError", "ConnectionRefusedError"):
            assert words not in shown


def test_reports_read_well() -> None:
    result = images.BuildResult("sha256:" + "a" * 64, "t:1", 12.34, [], [3], [4, 5])
    assert str(result) == "Built t:1 (sha256:aaaaaaaaaaaa) in 12.3 s: 2 steps run, 1 from the cache."
    report = images.TryReport(True, result, 1.5, 200, '{"status":"ok"}', ["created", "running", "exited (exit code 0)", "removed"])
    assert "GET /healthz -> 200" in str(report) and "created -> running -> exited (exit code 0) -> removed" in str(report)
    cache = images.CacheReport("app.py", [4, 5], result)
    assert cache.matches is True and "Prediction and build agree." in str(cache)
    assert images.CacheReport("app.py", [5]).matches is None


def test_image_layers_parse_history(monkeypatch: pytest.MonkeyPatch) -> None:
    history = [  # newest first, as the engine answers
        {"CreatedBy": '/bin/sh -c #(nop)  CMD ["x"]', "Size": 0},
        {"CreatedBy": "/bin/sh -c #(nop) COPY dir:abc in . ", "Size": 7640},
        {"CreatedBy": "/bin/sh -c pip install -r requirements.txt", "Size": 28_800_000},
        {"CreatedBy": "/bin/sh -c #(nop) WORKDIR /app", "Size": 0},
        {"CreatedBy": "", "Size": 190_000_000},
    ]

    class FakeClient:
        class api:
            @staticmethod
            def history(image):
                return history

        def close(self):
            pass

    monkeypatch.setattr(images, "_client", lambda timeout=60: FakeClient())
    assert images.image_layers("x") == [
        ("(base image)", 190.0), ("WORKDIR /app", 0.0), ("pip install -r requirements.txt", 28.8),
        ("COPY dir:abc in .", 0.00764), ('CMD ["x"]', 0.0),
    ]
    four_steps = "FROM x\nWORKDIR /app\nRUN pip install -r requirements.txt\nCOPY . .\nCMD [\"x\"]\n"
    assert images.layer_sizes("x", four_steps) == [190.0, 0.0, 28.8, 0.00764, 0.0]
    with pytest.raises(ValueError, match="too few"):
        images.layer_sizes("x", four_steps + "USER 1\nEXPOSE 1\n")
