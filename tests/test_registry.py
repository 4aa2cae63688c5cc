"""The user's project registry: one owner per name, damage reported, explicit folders free of it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import yaml

from tests.helpers.cli import REPO, cli_json, one_sentence, run_cli

CREATORS = 4


def _registry(config_dir):
    return yaml.safe_load((config_dir / "projects.yaml").read_text(encoding="utf-8"))


def test_create_refuses_a_name_registered_for_another_folder(tmp_path, isolated_user):
    """'project create NAME --root X' for a NAME registered elsewhere exits 2 and writes nothing."""
    first, second = tmp_path / "first", tmp_path / "second"
    assert run_cli("project", "create", "film", "--root", str(first)).returncode == 0
    before = (isolated_user / "projects.yaml").read_bytes()
    result = run_cli("project", "create", "film", "--root", str(second))
    assert result.returncode == 2
    assert "already registered at" in one_sentence(result.stderr)
    assert not second.exists()
    assert (isolated_user / "projects.yaml").read_bytes() == before


def test_create_with_force_re_points_a_registered_name(tmp_path, isolated_user):
    """With --force the name is registered for the new folder."""
    first, second = tmp_path / "first", tmp_path / "second"
    assert run_cli("project", "create", "film", "--root", str(first)).returncode == 0
    assert cli_json("project", "create", "film", "--root", str(second), "--force")["root"] == (
        str(second))
    assert _registry(isolated_user)["projects"]["film"] == str(second)


@pytest.mark.slow
def test_concurrent_creates_of_one_name_register_exactly_one(tmp_path, isolated_user):
    """Four processes creating 'same' in four folders: one wins, the others exit 2 and make nothing."""
    roots = [tmp_path / f"root{i}" for i in range(CREATORS)]
    env = {**os.environ, "OPENPIPELINE_CONFIG_DIR": str(isolated_user)}
    procs = [subprocess.Popen([sys.executable, "-m", "openpipeline", "project", "create", "same",
                               "--root", str(root)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, cwd=REPO, env=env)
             for root in roots]
    codes = []
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        codes.append(proc.returncode)
        if proc.returncode:
            assert "already registered at" in one_sentence(err)
    assert sorted(codes) == [0] + [2] * (CREATORS - 1)
    winner = roots[codes.index(0)]
    assert _registry(isolated_user)["projects"] == {"same": str(winner)}
    assert [root for root in roots if root.exists()] == [winner]


@pytest.mark.parametrize("text", [
    "not: [valid",
    "registry_version: 1\nactive: film\nprojects: {film: 3}\n",
    "just text\n",
])
def test_damaged_registry_does_not_block_an_explicit_project_folder(tmp_path, isolated_user,
                                                                      text):
    """--project DIR and OPENPIPELINE_PROJECT=DIR open the folder without reading the registry."""
    root = tmp_path / "p"
    assert run_cli("project", "create", "film", "--root", str(root)).returncode == 0
    (isolated_user / "projects.yaml").write_text(text, encoding="utf-8")
    made = cli_json("--project", str(root), "asset", "create", "prop", "chair")
    assert made["item"] == "asset/prop/chair"
    listing = cli_json("asset", "list", env={"OPENPIPELINE_PROJECT": str(root)})
    assert [row["item"] for row in listing] == ["asset/prop", "asset/prop/chair"]


def test_non_text_path_in_the_registry_is_a_clear_user_error(tmp_path, isolated_user):
    """A registry entry whose path is a number names the registry file and the fix; exit 2."""
    registry = isolated_user / "projects.yaml"
    registry.write_text("registry_version: 1\nactive: film\nprojects: {film: 3}\n",
                        encoding="utf-8")
    for args in (("project", "list"), ("asset", "list"), ("--project", "film", "asset", "list")):
        result = run_cli(*args)
        assert result.returncode == 2, result.stderr
        line = one_sentence(result.stderr)
        assert str(registry) in line and "project register" in line


def test_register_refuses_a_name_registered_for_another_folder(tmp_path, isolated_user):
    """'project register DIR' whose name is registered elsewhere exits 2 unless --force."""
    first, copy = tmp_path / "first", tmp_path / "copy"
    assert run_cli("project", "create", "film", "--root", str(first)).returncode == 0
    assert run_cli("project", "create", "film", "--root", str(copy), "--force").returncode == 0
    result = run_cli("project", "register", str(first))
    assert result.returncode == 2
    assert "already registered at" in one_sentence(result.stderr)
    assert _registry(isolated_user)["projects"]["film"] == str(copy)
    assert cli_json("project", "register", str(first), "--force")["root"] == str(first)
    assert _registry(isolated_user)["projects"]["film"] == str(first)
