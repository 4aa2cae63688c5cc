"""Where a save, a master or a restore fails or is interrupted, the project is as it was, or
whole: what an adversarial review of the merged hardening found."""

from __future__ import annotations

import os
import signal

import pytest

from openpipeline.core import ItemRef, Project, journal, removal, rename, versions
from openpipeline.core.errors import SourceFileError, StorageError
from openpipeline.host.actions import save_workshop
from openpipeline.host.null import NullHost
from tests.helpers.cli import run_cli
from tests.helpers.files import maya_scene, snapshot


@pytest.fixture
def chair(project):
    return project.create_item(ItemRef.parse("asset/prop/chair"))


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def _save_terminated_in_clean_up(chair, tmp_path, monkeypatch, terminate):
    """Save a workshop with ``terminate()`` called as its clean-up starts (SIGTERM raises
    KeyboardInterrupt); then the workshop is whole, keeps its claim, and no journal record is left."""
    finish = journal.MoveStep.finish

    def finish_then_terminate(step, root, tag):
        terminate()
        finish(step, root, tag)

    monkeypatch.setattr(journal.MoveStep, "finish", finish_then_terminate)
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        with pytest.raises(KeyboardInterrupt):
            versions.save_workshop(chair, maya_scene(tmp_path / "a.ma", "a"), note="a")
    finally:
        signal.signal(signal.SIGTERM, previous)
    monkeypatch.undo()
    assert chair.workshop_path(1).is_file() and (chair.claims_dir("workshop") / "1").exists()
    assert not list((chair.project.meta / "journal").glob("*.json"))


def test_a_sigterm_after_the_save_is_published_keeps_its_number(chair, tmp_path, monkeypatch):
    """SIGTERM during the clean-up: the workshop stays whole, keeps its claim, and follows a rename."""
    _save_terminated_in_clean_up(chair, tmp_path, monkeypatch, lambda: os.kill(os.getpid(), signal.SIGTERM))
    renamed = rename.rename(chair, "seat")
    assert renamed.workshop_path(1).read_text() == maya_scene(tmp_path / "b.ma", "a").read_text()
    assert versions.master(renamed, note="m").data.workshop == 1


def test_an_undone_event_gives_its_sequence_number_back(project, chair, tmp_path):
    """A save whose event step fails is undone completely: not even an event sequence claim is left."""
    versions.save_workshop(chair, maya_scene(tmp_path / "a.ma", "a"), note="a")
    before = snapshot(project.root)
    result = run_cli("--project", str(project.root), "workshop", "save", "asset/prop/chair",
                     str(maya_scene(tmp_path / "b.ma", "b")), "--note", "b",
                     env={"OPENPIPELINE_FAULT": "workshop.step1:EIO"})
    assert result.returncode == 2, result.stderr
    assert snapshot(project.root) == before


def test_a_failed_host_save_leaves_the_scene_named_as_before(chair, tmp_path, monkeypatch):
    """When a save from the open scene fails, the scene keeps its old name, and the next save works."""
    scene = maya_scene(tmp_path / "open.ma", "in maya")
    host = NullHost(scene)
    monkeypatch.setenv("OPENPIPELINE_FAULT", "workshop.journaled:ENOSPC")
    with pytest.raises(StorageError):
        save_workshop(chair, host, "n")
    assert host.current_file() == scene
    monkeypatch.delenv("OPENPIPELINE_FAULT")
    assert save_workshop(chair, host, "again").version == 1
    assert "in maya" in chair.workshop_path(1).read_text()


def test_a_host_that_writes_a_folder_leaves_nothing_behind(chair, tmp_path):
    """A writer that makes a folder instead of a scene is refused and its folder removed."""
    versions.save_workshop(chair, maya_scene(tmp_path / "a.ma", "a"), note="a")
    before = snapshot(chair.path)
    with pytest.raises(SourceFileError, match="did not write"):
        versions.save_workshop(chair, writer=lambda path: path.mkdir(), note="w")
    assert snapshot(chair.path) == before


def test_a_failed_restore_takes_back_the_type_it_made(project, tmp_path):
    """A restore that fails after re-creating the asset type removes that type again."""
    car = project.create_item(ItemRef.parse("asset/veh/car"))
    removal.delete(car)
    removal.delete(Project.open(project.root).item("asset/veh"))
    before = snapshot(project.root / "lib")
    result = run_cli("--project", str(project.root), "restore", "asset/veh/car",
                     env={"OPENPIPELINE_FAULT": "restore.journaled:ENOSPC"})
    assert result.returncode == 2, result.stderr
    assert snapshot(project.root / "lib") == before


def test_a_sigterm_taken_by_another_thread_waits_for_the_clean_up(chair, tmp_path, monkeypatch):
    """A process-directed signal may land on any thread (Maya, torch and numba run many): one that
    another thread takes during the clean-up still waits until the clean-up is done."""
    import threading
    import time

    parked = threading.Event()
    other = threading.Thread(target=parked.wait, daemon=True)
    other.start()

    def terminate_elsewhere():
        assert other.ident is not None
        signal.pthread_kill(other.ident, signal.SIGTERM)  # as if the kernel picked that thread
        time.sleep(0.05)  # that thread's handler has run by now: the main thread is told
        for _ in range(1000):  # a loop: where Python runs a pending handler
            pass

    try:
        _save_terminated_in_clean_up(chair, tmp_path, monkeypatch, terminate_elsewhere)
    finally:
        parked.set()
