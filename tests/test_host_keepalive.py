"""A check-out taken from Maya stays alive while its scene is open and is checked in when it closes."""

from __future__ import annotations

import time

import pytest

from openpipeline.core import checkout
from openpipeline.core.errors import LockHeldError, UserError
from openpipeline.host import keepalive, menu
from openpipeline.host.actions import SCENE_INFO_ITEM, master_scene
from openpipeline.host.null import NullHost
from tests.helpers.files import maya_scene


@pytest.fixture(autouse=True)
def no_keepalive_left():
    yield
    running = keepalive.current()
    if running is not None:
        running.stop()


@pytest.fixture
def host(tmp_path):
    host = NullHost(maya_scene(tmp_path / "open.ma", "x"))
    host.set_scene_info(SCENE_INFO_ITEM, "asset/prop/chair")
    return host


def _age_lock(asset, seconds):
    info = asset.checkout.status()
    record = {**info.to_record(), "heartbeat": info.heartbeat - seconds}
    asset.checkout.path.write_text(__import__("json").dumps(record))


def test_refresh_renews_only_your_own_check_out(asset):
    """refresh moves the heartbeat forward; it never takes a free or stolen lock."""
    with pytest.raises(UserError, match="no longer checked out"):
        checkout.heartbeat(asset)
    checkout.acquire(asset)
    _age_lock(asset, 1000)
    assert checkout.heartbeat(asset).heartbeat > time.time() - 5
    checkout.steal(asset, author="bob")
    with pytest.raises(LockHeldError, match="bob"):
        checkout.heartbeat(asset)
    assert asset.checkout.status().user == "bob"


def test_heartbeat_refreshes_the_lock_while_the_scene_is_open(project, asset, host):
    """Check Out starts a heartbeat; each beat renews the check-out so it never goes stale."""
    menu.check_out(True, host, project)
    seconds, _ = host.heartbeat
    assert seconds == keepalive.interval_for(project.config.lock_ttl_seconds)
    _age_lock(asset, project.config.lock_ttl_seconds + 10)
    assert asset.checkout.is_stale(asset.checkout.status())
    host.beat()
    assert not asset.checkout.is_stale(asset.checkout.status())
    assert [e.event for e in asset.events()].count("lock") == 1  # beats write no history


def test_closing_the_scene_checks_the_item_in(project, asset, host):
    """A new scene closes the item's scene: the heartbeat stops and the check-out is released."""
    menu.check_out(True, host, project)
    host.new_scene()
    assert asset.checkout.status() is None
    assert host.heartbeat is None
    assert asset.events()[-1].event == "unlock" and asset.events()[-1].comment == "scene closed"


def test_a_check_out_already_yours_is_kept_not_released(project, asset, host):
    """Only a check-out this session took is checked in on close."""
    checkout.acquire(asset)
    menu.check_out(True, host, project)
    host.quit()
    assert asset.checkout.status().user == "tester"


def test_mastering_reopens_the_workshop_without_checking_in(project, asset, host):
    """Master's own reopen of the workshop is not a close: the check-out stays and keeps beating."""
    from openpipeline.core.master_options import MasterOptions

    menu.check_out(True, host, project)
    master_scene(asset, host, "m", options=MasterOptions(delete_display_layers=True))
    assert asset.checkout.status() is not None and host.heartbeat is not None
    host.new_scene()
    assert asset.checkout.status() is None


def test_a_stolen_check_out_stops_the_heartbeat_with_a_warning(project, asset, host):
    """When somebody steals the item, the next beat warns and the lock is theirs."""
    menu.check_out(True, host, project)
    checkout.steal(asset, author="bob")
    host.beat()
    assert host.heartbeat is None and asset.checkout.status().user == "bob"
    assert host.shown[-1][0] == "warn" and "bob" in host.shown[-1][1]
    host.new_scene()
    assert asset.checkout.status().user == "bob"
