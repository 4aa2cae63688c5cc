"""A job in a worker process, so Maya (or any host) stays responsive while it computes.

The worker, ``python -m openpipeline.engine.worker``, reads one JSON object on stdin,
``{"job": job.to_dict(), "cache": "<cache root>"}``, runs the job through the result
cache and prints one JSON line per progress update, ``{"fraction", "stage", "message"}``,
then a last line ``{"done": "<key>"}`` or ``{"error": "<one sentence>"}``. It exits 0 on
success, 2 when the input is unusable and 1 on any other failure.

:class:`BackgroundJob` is the parent's handle: it starts the worker in its own process
group (session), follows its lines from a reader thread, and cancels by killing the
whole group; a cancelled or killed worker publishes nothing (the cache publishes by one
rename at the very end, and the staging folder it leaves is removed).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from openpipeline.engine.allocator import keep_freed_memory
from openpipeline.engine.cache import Entry, ResultCache
from openpipeline.engine.errors import EngineInputError
from openpipeline.engine.jobs import Job, job_from_dict, run_cached
from openpipeline.engine.progress import Progress

__all__ = ["PYTHON_ENV", "BackgroundJob", "main", "python_executable"]

PYTHON_ENV = "OPENPIPELINE_PYTHON"
MAYA_EXECUTABLES = ("maya", "maya.bin", "maya.exe")
PACKAGE_PARENT = Path(__file__).resolve().parents[2]  # the folder holding ``openpipeline``


def python_executable() -> str:
    """The Python to run a worker with.

    ``$OPENPIPELINE_PYTHON`` if set; inside Maya (``sys.executable`` is ``maya``,
    ``maya.bin`` or ``maya.exe``) the ``mayapy`` beside it, else ``$MAYA_LOCATION/bin/mayapy``;
    otherwise ``sys.executable``.
    """
    chosen = os.environ.get(PYTHON_ENV)
    if chosen:
        return chosen
    executable = Path(sys.executable)
    if executable.name.lower() in MAYA_EXECUTABLES:
        name = "mayapy.exe" if sys.platform == "win32" else "mayapy"
        candidates = [executable.with_name(name)]
        location = os.environ.get("MAYA_LOCATION")
        if location:
            candidates.append(Path(location) / "bin" / name)
        for candidate in candidates:
            if candidate.is_file():
                return str(candidate)
    return sys.executable


# -- the worker side --------------------------------------------------------------
def _say(out: IO[str], data: dict[str, Any]) -> None:
    out.write(json.dumps(data, default=str) + "\n")
    out.flush()


def _run(request: Any, out: IO[str]) -> Entry:
    """Run the request's job through its cache, reporting progress as JSON lines."""
    if not isinstance(request, dict) or not isinstance(request.get("cache"), str):
        raise EngineInputError('The worker needs {"job": ..., "cache": "<folder>"} on stdin.')
    job = job_from_dict(request.get("job") or {})

    def progress(update: Progress) -> None:
        _say(out, {"fraction": update.fraction, "stage": update.stage, "message": update.message})

    entry, _ = run_cached(job, ResultCache(Path(request["cache"])), progress)
    assert entry is not None
    return entry


def main(stdin: IO[str] | None = None, stdout: IO[str] | None = None) -> int:
    """The worker: one job from ``stdin``; returns the exit code (0, 2 bad input, 1 failure)."""
    source = stdin or sys.stdin
    out = stdout or sys.stdout
    keep_freed_memory()  # a process of our own (see openpipeline.engine.allocator)
    try:
        entry = _run(json.loads(source.read()), out)
    except (EngineInputError, ValueError) as exc:
        _say(out, {"error": str(exc) if isinstance(exc, EngineInputError)
                   else f"The worker's input is not a JSON job ({exc}); send one JSON object."})
        return 2
    except Exception as exc:  # the last line must say why, whatever failed
        _say(out, {"error": f"The {type(exc).__name__} '{exc}' stopped the job; see the worker's log."})
        return 1
    _say(out, {"done": entry.key})
    return 0


# -- the parent side -----------------------------------------------------------
class BackgroundJob:
    """A job running in a worker process, followed from a reader thread.

    Attributes:
        state: "running", "done", "failed" or "cancelled" ("" before :meth:`start`).
        fraction: progress, 0..1.
        message: the last progress message, or the failure sentence.
        entry: the cache entry when done.

    ``on_change(job)`` is called from the reader thread after each update and once at
    the end; keep it short and hand the work to the host's main thread.
    """

    def __init__(self, job: Job, cache_root: Path, on_change: Callable[[BackgroundJob], None] | None = None,
                 python: str | None = None) -> None:
        self.job = job
        self.cache_root = Path(cache_root)
        self.on_change = on_change
        self.python = python or python_executable()
        self.state = ""
        self.fraction = 0.0
        self.message = ""
        self.entry: Entry | None = None
        self.key = ""
        self._process: subprocess.Popen[str] | None = None
        self._stderr_reader: threading.Thread | None = None
        self._stderr: deque[str] = deque(maxlen=20)
        self._finished = threading.Event()
        self._lock = threading.Lock()

    @property
    def pid(self) -> int | None:
        """The worker's process id (its process group's too); None before it starts."""
        return None if self._process is None else self._process.pid

    def start(self) -> None:
        """Start the worker. Cost: a new Python process (about a second to import the engine)."""
        try:
            self.key = self.job.key()
        except EngineInputError as exc:  # an input is missing or unreadable: no worker to start
            self.state, self.message = "failed", str(exc)
            self._finished.set()
            self._changed()
            return
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PACKAGE_PARENT), env.get("PYTHONPATH")]))
        group: dict[str, Any] = ({"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}  # type: ignore[attr-defined]
                                 if sys.platform == "win32" else {"start_new_session": True})
        try:
            self._process = subprocess.Popen(
                [self.python, "-m", "openpipeline.engine.worker"], stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8", env=env, **group)
        except OSError as exc:
            self.state, self.message = "failed", (
                f"Cannot start the worker Python '{self.python}' ({exc.strerror}); set {PYTHON_ENV} "
                "to a Python that can import openpipeline.")
            self._finished.set()
            self._changed()
            return
        self.state = "running"
        self._stderr_reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._stderr_reader.start()  # before the stdout reader, which joins it at the end
        threading.Thread(target=self._follow, daemon=True).start()
        assert self._process.stdin is not None
        try:
            self._process.stdin.write(json.dumps({"job": self.job.to_dict(), "cache": str(self.cache_root)}))
            self._process.stdin.close()
        except OSError:
            pass  # the worker died at once: the reader reports it

    def _read_stderr(self) -> None:
        assert self._process is not None and self._process.stderr is not None
        for line in self._process.stderr:
            if line.strip():
                self._stderr.append(line.rstrip())

    def _follow(self) -> None:
        """The reader thread: follow the worker to its end; whatever happens, the job ends."""
        try:
            self._read_stdout()
        except Exception as exc:  # the thread must not die silently: the job would hang "running"
            with self._lock:
                if self.state == "running":
                    self.state = "failed"
                    self.message = f"Following the {self.job.kind} worker failed ({exc}); run the job again."
        finally:
            self._finished.set()
            self._changed()

    def _read_stdout(self) -> None:
        """Follow the worker's lines, then settle the final state when it exits."""
        assert self._process is not None and self._process.stdout is not None
        last: dict[str, Any] = {}
        for line in self._process.stdout:
            try:
                data = json.loads(line)
            except ValueError:
                continue  # a stray print of a library: not ours
            if not isinstance(data, dict):
                continue
            if "fraction" in data and self.state == "running":
                self.fraction = float(data["fraction"])
                self.message = str(data.get("message") or data.get("stage") or "")
                self._changed()
            else:
                last = data
        code = self._process.wait()
        if self._stderr_reader is not None:
            self._stderr_reader.join(timeout=5)
        self._settle(code, last)

    def _settle(self, code: int, last: dict[str, Any]) -> None:
        with self._lock:
            if self.state == "cancelled":
                return
            if code == 0 and "done" in last:
                self.entry = ResultCache(self.cache_root).get(self.job.kind, str(last["done"]))
                if self.entry is not None:
                    self.state, self.fraction = "done", 1.0
                    return
                self.state, self.message = "failed", (
                    f"The {self.job.kind} result vanished from the cache '{self.cache_root}' as it was "
                    "finished; run the job again.")
                return
            self.state = "failed"
            if "error" in last:
                self.message = str(last["error"])
            else:
                how = (f"was killed (signal {-code})" if code < 0
                       else f"stopped unexpectedly (exit code {code})")
                tail = f": {self._stderr[-1]}" if self._stderr and code > 0 else ""
                self.message = (f"The {self.job.kind} worker process {how}{tail}; run the job again, and "
                                "check the machine's memory if it recurs.")

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change(self)

    def cancel(self) -> None:
        """Kill the worker's whole process group; nothing is published, its staging is removed.

        A result the worker had already published before the kill stays (it is whole).
        """
        process = self._process
        with self._lock:
            if process is None or self.state != "running":
                return
            self.state, self.message = "cancelled", "Cancelled."
        try:
            if sys.platform == "win32":
                process.kill()
            else:
                os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        process.wait()
        ResultCache(self.cache_root).remove_staging(self.key, process.pid)

    def wait(self, timeout: float | None = None) -> str:
        """Wait for the worker to end (or ``timeout`` seconds); returns the state."""
        self._finished.wait(timeout)
        return self.state


if __name__ == "__main__":
    sys.exit(main())
