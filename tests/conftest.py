"""Shared fixtures: every test gets its own user config folder and author name.

Shared functions live in ``tests/helpers/``."""

from __future__ import annotations

from pathlib import Path

import pytest

from openpipeline.core import ItemRef, Project
from tests.helpers.files import maya_scene


@pytest.fixture(autouse=True)
def isolated_user(tmp_path_factory, monkeypatch):
    config = tmp_path_factory.mktemp("user-config")
    monkeypatch.setenv("OPENPIPELINE_CONFIG_DIR", str(config))
    monkeypatch.setenv("OPENPIPELINE_USER", "tester")
    monkeypatch.setenv("OPENPIPELINE_CACHE", str(tmp_path_factory.mktemp("result-cache")))  # not ~/.cache
    monkeypatch.delenv("OPENPIPELINE_PROJECT", raising=False)
    monkeypatch.delenv("OPENPIPELINE_FAULT", raising=False)
    # commands run in this process (cli.main) leave pytest's malloc as it is: the memory budgets
    # the tests check were measured with it (tests/test_allocator.py tests the setting itself)
    monkeypatch.setenv("OPENPIPELINE_SYSTEM_MALLOC", "1")
    return config


@pytest.fixture
def project(tmp_path) -> Project:
    return Project.create(tmp_path / "proj", "demo")


@pytest.fixture
def scene(tmp_path) -> Path:
    return maya_scene(tmp_path / "scene.ma", "first")


@pytest.fixture
def asset(project):
    return project.create_item(ItemRef.parse("asset/prop/chair"))
