"""The ``local`` back end: a farm job's tasks in worker processes on this machine.

Each task runs as ``python -m openpipeline.farm.task JOB.json INDEX`` in its own process
group (see :mod:`.task`); a task whose result is already cached is delivered at once
without starting a process, so a re-run resumes where a stopped one ended. A failed
task is tried once more (not one refused for bad input); ``Ctrl-C`` (or SIGTERM) stops
every worker and publishes nothing half-made. The job's state lives in its own
folder under :func:`state_root` (``job.json``, ``state.json``) for ``farm status``.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any, TextIO

from openpipeline.atomic import write_bytes
from openpipeline.core.fsutil import pid_alive
from openpipeline.core.identity import current_host
from openpipeline.farm.model import JOB_FILE, FarmJob, FarmJobError

STATE_ENV = "OPENPIPELINE_FARM_STATE"
STATE_FILE = "state.json"
ATTEMPTS = 2  # a failed task is retried once
STOP_WAIT = 5.0  # seconds a stopped worker gets to clean up before it is killed


def state_root() -> Path:
    """Where local jobs keep their state: ``$OPENPIPELINE_FARM_STATE``, else the user's state folder
    (``$XDG_STATE_HOME`` or ``~/.local/state``; Windows ``%LOCALAPPDATA%``) ``/openpipeline/farm``."""
    if os.environ.get(STATE_ENV):
        return Path(os.environ[STATE_ENV])
    if sys.platform.startswith("win") and os.environ.get("LOCALAPPDATA"):
        return Path(os.environ["LOCALAPPDATA"]) / "openpipeline" / "farm"
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "openpipeline" / "farm"


@dataclass
class TaskState:
    """How one task of a local job stands."""

    index: int
    name: str
    state: str = "pending"  # pending | running | done | reused | failed | cancelled
    attempts: int = 0
    seconds: float = 0.0
    fraction: float = 0.0
    message: str = ""
    files: list[str] = field(default_factory=list)


@dataclass
class JobState:
    """A local job's state file: the job's id, name, state and its tasks'."""

    id: str
    name: str
    operation: str
    state: str  # running | done | failed | cancelled | stopped (its runner died: read back only)
    started: str
    tasks: list[TaskState]
    finished: str = ""
    host: str = ""
    pid: int = 0

    def counts(self) -> dict[str, int]:
        counts = {"done": 0, "reused": 0, "failed": 0, "cancelled": 0, "pending": 0, "running": 0}
        for task in self.tasks:
            counts[task.state] += 1
        return counts

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["counts"] = self.counts()
        return data


def parse_state(raw: Any) -> JobState:
    """A state file's JSON back into a :class:`JobState` (FarmJobError when damaged)."""
    try:
        tasks = [TaskState(**{k: v for k, v in t.items() if k in TaskState.__dataclass_fields__})
                 for t in raw["tasks"]]
        state = JobState(raw["id"], raw["name"], raw["operation"], raw["state"], raw["started"], tasks,
                         raw.get("finished", ""), raw.get("host", ""), int(raw.get("pid", 0)))
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise FarmJobError(f"A local job's state file is damaged ({exc}); submit the job again.") from None
    if state.state == "running" and state.host == current_host() and state.pid and not pid_alive(state.pid):
        state.state = "stopped"  # its runner died without saying so (killed, machine crash)
    return state


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


def new_job_id() -> str:
    """``20261128-201500-3fa2c1``: sortable by start time, unique by its random tail."""
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(3)


def worker_python() -> str:
    """The interpreter of worker processes: ``$OPENPIPELINE_PYTHON``, else this one."""
    return os.environ.get("OPENPIPELINE_PYTHON") or sys.executable


class _Worker:
    """One task's process and the reader thread following its JSON lines."""

    def __init__(self, task: TaskState, command: list[str], env: dict[str, str]) -> None:
        self.task = task
        self.started = time.monotonic()
        self.last: dict[str, Any] = {}
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                                        text=True, start_new_session=True)
        self.errors: list[str] = []
        self.readers = [threading.Thread(target=self._read, args=(self.process.stdout,), daemon=True),
                        threading.Thread(target=self._read_errors, args=(self.process.stderr,), daemon=True)]
        for reader in self.readers:
            reader.start()

    def _read(self, stream: IO[str] | None) -> None:
        assert stream is not None
        for line in stream:
            try:
                data = json.loads(line)
            except ValueError:
                continue
            if isinstance(data, dict):
                if "fraction" in data:
                    self.task.fraction = float(data["fraction"])
                    self.task.message = str(data.get("message", ""))
                else:
                    self.last = data

    def _read_errors(self, stream: IO[str] | None) -> None:
        assert stream is not None
        for line in stream:
            self.errors = [*self.errors[-20:], line.rstrip()]

    def poll(self) -> int | None:
        code = self.process.poll()
        if code is not None:
            for reader in self.readers:
                reader.join(timeout=5)
        return code

    def stop(self) -> None:
        """SIGTERM the task's process group, SIGKILL it after :data:`STOP_WAIT` seconds
        (Windows: terminate the process, then kill it)."""
        for hard in (False, True):
            try:
                if hasattr(os, "killpg"):
                    os.killpg(self.process.pid, signal.SIGKILL if hard else signal.SIGTERM)
                else:  # pragma: no cover - Windows
                    (self.process.kill if hard else self.process.terminate)()
            except (ProcessLookupError, PermissionError):
                return
            try:
                self.process.wait(timeout=STOP_WAIT)
                return
            except subprocess.TimeoutExpired:
                continue


def _failure_message(worker: _Worker, code: int) -> str:
    error = worker.last.get("error")
    if isinstance(error, str):
        return error
    tail = worker.errors[-1] if worker.errors else ""
    return f"exit code {code}" + (f": {tail}" if tail else "")


class LocalRunner:
    """Runs a job's tasks here, ``workers`` at a time, keeping its state folder up to date.

    Args:
        job: the job (its paths as this machine sees them).
        folder: the job's state folder (``job.json`` is written there).
        workers: how many tasks run at once.
        out: where the progress and the per-task lines go (None: silent).
    """

    def __init__(self, job: FarmJob, folder: Path, workers: int = 1, out: TextIO | None = None) -> None:
        self.job = job
        self.folder = folder
        self.workers = max(1, workers)
        self.out = out
        self.state = JobState(folder.name, job.name, job.operation, "running", _now(),
                              [TaskState(i, t.name) for i, t in enumerate(job.tasks)], host=current_host(),
                              pid=os.getpid())
        self.active: dict[int, _Worker] = {}
        self._drawn = ""

    # -- state file ---------------------------------------------------------------
    def save(self) -> None:
        write_bytes(self.folder / STATE_FILE, json.dumps(self.state.to_dict(), indent=2).encode("utf-8"))

    def _say(self, text: str) -> None:
        if self.out is not None:
            self.out.write(("\r\033[K" if self.out.isatty() else "") + text + "\n")
            self.out.flush()

    def _draw(self) -> None:
        if self.out is None or not self.out.isatty():
            return
        total = len(self.state.tasks)
        finished = sum(t.state in ("done", "reused", "failed") for t in self.state.tasks)
        fraction = (finished + sum(w.task.fraction for w in self.active.values())) / max(total, 1)
        names = ", ".join(w.task.name for w in self.active.values())[:40]
        bar = "#" * int(fraction * 30)
        line = f"[{bar:.<30}] {fraction * 100:5.1f}%  {finished}/{total} tasks  {names}"
        if line != self._drawn:  # redraw only what changed
            self._drawn = line
            self.out.write(f"\r\033[K{line}")
            self.out.flush()

    # -- the loop --------------------------------------------------------------------
    def run(self) -> JobState:
        """Run every task; returns the final state (``done``, ``failed`` or, after Ctrl-C, ``cancelled``).

        Raises:
            KeyboardInterrupt: after stopping the workers and saving the state as cancelled.
        """
        self.folder.mkdir(parents=True, exist_ok=True)
        write_bytes(self.folder / JOB_FILE, self.job.to_json().encode("utf-8"))
        self.save()
        pending = [t.index for t in self.state.tasks]
        try:
            while pending or self.active:
                while pending and len(self.active) < self.workers:
                    pending += self._start(pending.pop(0))
                pending = self._collect() + pending
                self._draw()
                time.sleep(0.05)
        except KeyboardInterrupt:
            self._cancel()
            raise
        failed = any(t.state == "failed" for t in self.state.tasks)
        self._finish("failed" if failed else "done")
        return self.state

    def _start(self, index: int) -> list[int]:
        """Deliver a cached result at once, or start a worker process; returns the task to
        try again when delivering its cached result failed."""
        task = self.state.tasks[index]
        task.attempts += 1
        try:
            reused = self._reuse(index)
        except Exception as exc:  # delivering failed: a failed attempt, like a worker's
            return self._failed(task, f"Task failed ({type(exc).__name__}: {exc}).", retry=True)
        if reused is not None:
            task.state, task.files, task.fraction = "reused", reused, 1.0
            self._say(f"reused  {task.name} (cached result)")
            self.save()
            return []
        env = dict(os.environ)
        if self.job.pythonpath:
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [self.job.pythonpath, env.get("PYTHONPATH")]))
        command = [worker_python(), "-m", "openpipeline.farm.task", str(self.folder / JOB_FILE), str(index)]
        task.state, task.fraction = "running", 0.0
        self.active[index] = _Worker(task, command, env)
        self.save()
        return []

    def _failed(self, task: TaskState, message: str, retry: bool) -> list[int]:
        """Record a failed attempt; returns ``[task.index]`` when it gets another one."""
        if retry and task.attempts < ATTEMPTS:
            self._say(f"retry   {task.name} ({message})")
            task.state = "pending"
            self.save()
            return [task.index]
        task.state, task.message = "failed", message
        self._say(f"failed  {task.name}: {message}")
        self.save()
        return []

    def _reuse(self, index: int) -> list[str] | None:
        """The delivered files when task ``index``'s result is already cached, else None."""
        task = self.job.tasks[index]
        if task.key is None:
            return None
        from openpipeline.farm.task import _cache, deliver

        kind = str(task.job.get("kind"))
        entry = _cache(self.job).get(kind, task.key)
        return None if entry is None else deliver(task, entry, kind)

    def _collect(self) -> list[int]:
        """Record finished workers; returns the tasks to try again."""
        retry = []
        for index, worker in list(self.active.items()):
            code = worker.poll()
            if code is None:
                continue
            del self.active[index]
            task = worker.task
            task.seconds += round(time.monotonic() - worker.started, 2)
            if code == 0:
                task.state, task.fraction = "done", 1.0
                task.files = list(worker.last.get("files", []))
                if worker.last.get("reused"):
                    task.state = "reused"
                self._say(f"{task.state:<7} {task.name} in {task.seconds:.1f} s")
                self.save()
            else:
                retry += self._failed(task, _failure_message(worker, code), retry=code != 2)
        return retry

    def _cancel(self) -> None:
        for worker in self.active.values():
            worker.stop()
            worker.task.state = "cancelled"
        self.active.clear()
        for task in self.state.tasks:
            if task.state in ("pending", "running"):
                task.state = "cancelled"
        self._finish("cancelled")

    def _finish(self, state: str) -> None:
        self.state.state, self.state.finished = state, _now()
        self.save()
        if self.out is not None and self.out.isatty():  # the bar's line is left empty for the summary
            self.out.write("\r\033[K")
            self.out.flush()


def summary_text(state: JobState) -> str:
    """One paragraph: what ran, what was reused, what failed (each failure named with its reason)."""
    counts = state.counts()
    text = (f"Job {state.id} ({state.name}) {state.state}: {counts['done']} ran, {counts['reused']} reused, "
            f"{counts['failed']} failed")
    if counts["cancelled"]:
        text += f", {counts['cancelled']} not finished (re-run the same command to resume)"
    lines = [text + "."]
    lines += [f"  failed: {t.name}: {t.message}" for t in state.tasks if t.state == "failed"]
    return "\n".join(lines)


def read_state(folder: Path) -> JobState:
    """A local job's state from its folder (FarmJobError when missing or damaged)."""
    try:
        raw = json.loads((folder / STATE_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FarmJobError(f"No local farm job '{folder.name}'; list them with "
                           "'openpipeline farm status'.") from None
    except (OSError, ValueError) as exc:
        raise FarmJobError(f"The state of local job '{folder.name}' cannot be read ({exc}).") from None
    return parse_state(raw)


def list_states(root: Path | None = None) -> list[JobState]:
    """Every local job's state, oldest first (damaged ones left out)."""
    root = root or state_root()
    states = []
    for folder in sorted(root.iterdir()) if root.is_dir() else []:
        try:
            states.append(read_state(folder))
        except FarmJobError:
            continue
    return states

