"""`openpipeline maya install|uninstall`: the module file Maya reads, written and removed."""

from __future__ import annotations

import os
import re
from pathlib import Path

from tests.helpers.cli import REPO, one_sentence, run_cli

SECTION = re.compile(r"^\+ MAYAVERSION:(\d+) openpipeline (\S+) (.+)$", flags=re.M)


def _variable_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines()
            if line.strip() and not line.startswith(("+", "#"))]


def test_install_writes_one_section_per_maya_version_with_an_absolute_root(tmp_path):
    """The .mod has 2024, 2025 and 2026 sections rooted at this checkout, with module.mod's lines."""
    result = run_cli("maya", "install", "--modules-dir", str(tmp_path / "modules"))
    assert result.returncode == 0, result.stderr
    written = (tmp_path / "modules" / "openpipeline.mod").read_text(encoding="utf-8")
    sections = SECTION.findall(written)
    assert [version for version, _, _ in sections] == ["2024", "2025", "2026"]
    for _, _, root in sections:
        assert Path(root).is_absolute() and Path(root) == REPO.resolve()
        assert (Path(root) / "plugin").is_dir()
    repo_lines = _variable_lines((REPO / "module.mod").read_text(encoding="utf-8"))
    assert _variable_lines(written) == repo_lines  # the same lines, the same order: no drift
    if any(line.startswith("XBMLANGPATH") for line in repo_lines):
        assert "XBMLANGPATH" in written
    assert "mayapy" in result.stdout and "import torch" in result.stdout


def test_install_of_one_version_writes_one_section(tmp_path):
    """--maya-version 2025 writes the 2025 section only."""
    result = run_cli("maya", "install", "--maya-version", "2025", "--modules-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    written = (tmp_path / "openpipeline.mod").read_text(encoding="utf-8")
    assert [version for version, _, _ in SECTION.findall(written)] == ["2025"]


def test_install_finds_the_modules_folder_through_maya_app_dir(tmp_path):
    """Without --modules-dir the file goes to $MAYA_APP_DIR/modules."""
    result = run_cli("maya", "install", env={"MAYA_APP_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "modules" / "openpipeline.mod").is_file()


def test_a_bad_maya_version_is_refused_and_writes_nothing(tmp_path):
    """--maya-version 2023 exits 2 with one sentence naming the versions; no file appears."""
    result = run_cli("maya", "install", "--maya-version", "2023", "--modules-dir", str(tmp_path / "m"))
    assert result.returncode == 2
    assert "2024" in one_sentence(result.stderr)
    assert not (tmp_path / "m").exists()


def test_uninstall_removes_the_file_install_wrote(tmp_path):
    """install then uninstall leaves the modules folder empty."""
    assert run_cli("maya", "install", "--modules-dir", str(tmp_path)).returncode == 0
    result = run_cli("maya", "uninstall", "--modules-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_module_file_someone_else_wrote_is_left_alone(tmp_path):
    """uninstall and install both refuse (exit 2) a hand-written openpipeline.mod and keep it."""
    theirs = tmp_path / "openpipeline.mod"
    theirs.write_text("+ openpipeline 0.0.1 /studio/openpipeline\n", encoding="utf-8")
    for command in ("uninstall", "install"):
        result = run_cli("maya", command, "--modules-dir", str(tmp_path))
        assert result.returncode == 2, command
        one_sentence(result.stderr)
    assert theirs.read_text(encoding="utf-8") == "+ openpipeline 0.0.1 /studio/openpipeline\n"


def test_uninstall_with_nothing_installed_says_so(tmp_path):
    """uninstall of a folder without the file exits 2 with one sentence."""
    result = run_cli("maya", "uninstall", "--modules-dir", str(tmp_path))
    assert result.returncode == 2
    one_sentence(result.stderr)


def test_an_installation_without_the_module_files_is_refused(tmp_path):
    """A package without plugin/ beside it (a wheel install) exits 2 saying to install from a clone."""
    import shutil

    site = tmp_path / "site"
    shutil.copytree(REPO / "openpipeline", site / "openpipeline",
                    ignore=shutil.ignore_patterns("__pycache__"))
    result = run_cli("maya", "install", "--modules-dir", str(tmp_path / "m"),
                     env={"PYTHONPATH": str(site)}, cwd=tmp_path)
    assert result.returncode == 2
    assert "pip install -e" in one_sentence(result.stderr)
    assert not (tmp_path / "m").exists()


def test_a_modules_dir_under_a_file_or_unwritable_is_one_sentence(tmp_path):
    """--modules-dir below a file, or in a read-only folder (not as root, who writes anywhere): exit 2,
    one sentence, nothing written."""
    (tmp_path / "a_file").write_text("x", encoding="utf-8")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        cases = [tmp_path / "a_file" / "modules"]
        if os.geteuid() != 0:  # root writes anywhere
            cases += [locked, locked / "modules"]
        for folder in cases:
            result = run_cli("maya", "install", "--modules-dir", str(folder))
            assert result.returncode == 2, result.stderr
            assert "--modules-dir" in one_sentence(result.stderr)
            assert sorted(p.name for p in tmp_path.rglob("*")) == ["a_file", "locked"]
    finally:
        locked.chmod(0o700)
