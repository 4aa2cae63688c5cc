"""Running the real ``openpipeline`` command in a new process, and reading what it says."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


def run_cli(*args: str, env: dict[str, str] | None = None,
            cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real CLI in a new process."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "openpipeline", *args],
        capture_output=True, text=True, env=full_env, cwd=cwd or REPO, timeout=120,
    )


def cli_json(*args: str, env: dict[str, str] | None = None) -> Any:
    """Run the CLI with ``--json``; it must succeed; returns what it printed."""
    result = run_cli("--json", *args, env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def one_sentence(stderr: str) -> str:
    """The user-error contract: exactly one line, ``openpipeline: ...``, a full stop, no traceback."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("openpipeline: ") and lines[0].rstrip().endswith((".", ")")), lines
    assert "Traceback" not in stderr
    return lines[0]
