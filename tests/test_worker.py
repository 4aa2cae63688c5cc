"""Jobs in a worker process: the JSON-lines protocol, progress, cancel, failures."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from openpipeline.engine import worker
from openpipeline.engine.cache import ResultCache
from openpipeline.engine.images import write_image
from openpipeline.engine.texture import RestoreParams
from openpipeline.engine.texture.job import TextureJob
from openpipeline.engine.worker import BackgroundJob, python_executable
from tests.helpers.cli import REPO
from tests.helpers.images import noisy_version, pattern


@pytest.fixture
def image(tmp_path) -> Path:
    path = tmp_path / "in.png"
    write_image(path, noisy_version(pattern(24)))
    return path


def _job(image: Path, iterations: int, **params: object) -> TextureJob:
    return TextureJob(str(image), RestoreParams(max_iterations=iterations, threads=1, **params))  # type: ignore[arg-type]


def _staging(root: Path) -> list[str]:
    folder = root / ".staging"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


@pytest.mark.slow
def test_background_denoise_reports_progress_and_publishes(tmp_path, image):
    """A small real denoise runs in a worker; on_change sees progress rising, then done with the entry."""
    seen: list[tuple[str, float]] = []
    lock = threading.Lock()

    def changed(job: BackgroundJob) -> None:
        with lock:
            seen.append((job.state, job.fraction))

    background = BackgroundJob(_job(image, 20), tmp_path / "cache", on_change=changed)
    background.start()
    assert background.wait(120) == "done", background.message
    assert background.entry is not None and background.entry.files()[0].is_file()
    assert ResultCache(tmp_path / "cache").get("texture", background.key) is not None
    running = [fraction for state, fraction in seen if state == "running"]
    assert running and running == sorted(running) and 0 < running[0] < 1
    assert seen[-1] == ("done", 1.0)


@pytest.mark.slow
def test_cancel_kills_the_worker_and_publishes_nothing(tmp_path, image):
    """Cancelling a long job kills its process group; no entry and no staging folder remain."""
    started = threading.Event()
    background = BackgroundJob(_job(image, 100_000), tmp_path / "cache",
                               on_change=lambda job: started.set() if job.fraction > 0 else None)
    background.start()
    assert started.wait(120), background.message  # it is computing: progress has arrived
    pid = background.pid
    background.cancel()
    assert background.wait(10) == "cancelled"
    with pytest.raises(ProcessLookupError):
        os.killpg(pid, 0)
    assert ResultCache(tmp_path / "cache").get("texture", background.key) is None
    assert ResultCache(tmp_path / "cache").entries() == [] and _staging(tmp_path / "cache") == []


@pytest.mark.slow
def test_bad_parameters_fail_with_the_engine_sentence(tmp_path, image):
    """A job the engine refuses (tile too small) ends "failed" with the engine's one sentence."""
    background = BackgroundJob(_job(image, 5, tile=3), tmp_path / "cache")
    background.start()
    assert background.wait(120) == "failed"
    assert background.message.startswith("--tile must be at least") and background.message.endswith(".")
    assert ResultCache(tmp_path / "cache").entries() == []


def test_missing_input_fails_without_a_worker(tmp_path):
    """A job whose input is missing fails at start with a sentence naming the file."""
    calls: list[str] = []
    background = BackgroundJob(_job(tmp_path / "missing.png", 5), tmp_path / "cache",
                               on_change=lambda job: calls.append(job.state))
    background.start()
    assert background.wait(5) == "failed" and calls == ["failed"]
    assert "missing.png" in background.message and background.message.endswith(".")


@pytest.mark.slow
def test_killed_worker_is_a_failure_with_a_sentence(tmp_path, image):
    """A worker killed from outside (not cancelled) leaves the job "failed", saying it was killed."""
    started = threading.Event()
    background = BackgroundJob(_job(image, 100_000), tmp_path / "cache",
                               on_change=lambda job: started.set() if job.fraction > 0 else None)
    background.start()
    assert started.wait(120)
    os.kill(background.pid, signal.SIGKILL)
    assert background.wait(30) == "failed"
    assert "killed" in background.message and background.message.endswith(".")


def test_worker_that_exits_1_is_a_failure(tmp_path, image):
    """A "python" that dies at once with exit code 1 gives "failed" and a sentence with the code."""
    fake = tmp_path / "fake-python"
    fake.write_text("#!/bin/sh\necho 'boom' >&2\nexit 1\n")
    fake.chmod(0o755)
    background = BackgroundJob(_job(image, 5), tmp_path / "cache", python=str(fake))
    background.start()
    assert background.wait(30) == "failed"
    assert "exit code 1" in background.message and "boom" in background.message


def test_a_python_that_cannot_start_is_a_failure(tmp_path, image):
    """A worker Python that does not exist gives "failed" with a sentence naming it."""
    background = BackgroundJob(_job(image, 5), tmp_path / "cache", python=str(tmp_path / "no-python"))
    background.start()
    assert background.wait(5) == "failed"
    assert "no-python" in background.message and "OPENPIPELINE_PYTHON" in background.message


def _worker(request: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "openpipeline.engine.worker"], input=request,
                          capture_output=True, text=True, timeout=120, cwd=REPO,
                          env={**os.environ, "PYTHONPATH": str(REPO)})


def test_worker_protocol_bad_input_exits_2(tmp_path):
    """Not JSON, or an unknown job kind: exit 2 and a last line {"error": sentence}."""
    for request in ("not json", json.dumps({"job": {"kind": "teapot"}, "cache": str(tmp_path)})):
        result = _worker(request)
        assert result.returncode == 2, result.stderr
        last = json.loads(result.stdout.splitlines()[-1])
        assert set(last) == {"error"} and last["error"].endswith(".")


@pytest.mark.slow
def test_worker_protocol_progress_lines_then_done(tmp_path, image):
    """The worker prints progress lines, then {"done": key}, and exits 0; the entry is in the cache."""
    job = _job(image, 5)
    result = _worker(json.dumps({"job": job.to_dict(), "cache": str(tmp_path / "cache")}))
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert lines[-1] == {"done": job.key()}
    assert all(set(line) == {"fraction", "stage", "message"} for line in lines[:-1]) and len(lines) > 1
    assert ResultCache(tmp_path / "cache").get("texture", job.key()) is not None


def test_python_executable_rules(tmp_path, monkeypatch):
    """$OPENPIPELINE_PYTHON wins; inside Maya, mayapy beside it or under $MAYA_LOCATION;
    else sys.executable."""
    monkeypatch.delenv(worker.PYTHON_ENV, raising=False)
    monkeypatch.delenv("MAYA_LOCATION", raising=False)
    assert python_executable() == sys.executable
    monkeypatch.setenv(worker.PYTHON_ENV, "/opt/py")
    assert python_executable() == "/opt/py"
    monkeypatch.delenv(worker.PYTHON_ENV)
    bin_dir = tmp_path / "maya" / "bin"
    bin_dir.mkdir(parents=True)
    monkeypatch.setattr(sys, "executable", str(bin_dir / "maya.bin"))
    assert python_executable() == str(bin_dir / "maya.bin")  # no mayapy anywhere: itself
    location = tmp_path / "location"
    (location / "bin").mkdir(parents=True)
    (location / "bin" / "mayapy").write_text("")
    monkeypatch.setenv("MAYA_LOCATION", str(location))
    assert python_executable() == str(location / "bin" / "mayapy")
    (bin_dir / "mayapy").write_text("")
    assert python_executable() == str(bin_dir / "mayapy")
