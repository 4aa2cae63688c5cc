"""The opDipTexture node logic: inputs -> TextureJob -> cache or background job -> outputs."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from openpipeline.dg.state import JobState
from openpipeline.dg.texture_node import TextureInputs, TextureNode, restore_now
from openpipeline.engine.cache import ResultCache
from openpipeline.engine.images import write_image
from tests.helpers.images import noisy_version, pattern


def no_job(*_args):
    raise AssertionError("no job may start here")


@pytest.fixture
def image(tmp_path) -> Path:
    path = tmp_path / "rock.png"
    write_image(path, noisy_version(pattern(24)))
    return path


@pytest.fixture
def cache(tmp_path) -> ResultCache:
    return ResultCache(tmp_path / "cache")


def quick(image: Path, **values) -> TextureInputs:
    """A few iterations on a tiny image: seconds, not minutes."""
    iterations = values.pop("max_iterations", 5)
    return TextureInputs(file_path=str(image), sigma=25, max_iterations=iterations, **values)


class Dirty:
    """An on_change that counts its calls and can be waited on."""

    def __init__(self) -> None:
        self.calls = 0
        self.event = threading.Event()

    def __call__(self) -> None:
        self.calls += 1
        self.event.set()


def test_empty_path_is_idle(cache):
    """No file: status idle, no path, no job."""
    out = TextureNode(start=no_job).evaluate(TextureInputs(), cache, batch=False)
    assert (out.status, out.output_path, out.status_index) == ("idle", "", 0)


@pytest.mark.parametrize(("values", "words"), [
    ({"factor": 3, "operation": "upscale"}, "Factor 3 is not allowed"),
    ({"operation": "sharpen"}, "Operation 'sharpen' is not known"),
    ({"sigma": -1.0}, "sigma must be 0 or more"),
    ({"time_budget": -2.0}, "timeBudget must be 0 or more"),
    ({"operation": "inpaint"}, "Inpainting needs a mask"),
    ({"mask_path": "/no/such/mask.png"}, "does not exist"),
])
def test_bad_inputs_fail_with_one_sentence_and_start_no_job(cache, image, values, words):
    """A value the engine refuses gives status failed and its sentence; no job starts."""
    inputs = TextureInputs(file_path=str(image), **values)
    out = TextureNode(start=no_job).evaluate(inputs, cache, batch=False)
    assert out.status == "failed" and words in out.message and out.message.endswith(".")
    assert out.output_path == ""


def test_missing_texture_fails(cache, tmp_path):
    """A file that is not there (or a UDIM set with no tile) fails before any job."""
    node = TextureNode(start=no_job)
    for path in (tmp_path / "gone.png", tmp_path / "gone.<UDIM>.png"):
        out = node.evaluate(TextureInputs(file_path=str(path)), cache, batch=False)
        assert out.status == "failed" and "gone" in out.message


@pytest.mark.slow
def test_batch_runs_synchronously_and_answers_the_cached_file(cache, image):
    """In batch the job runs inside evaluate; the output is the cached result file, kept as the
    source's format; a second node answers from the cache without a job."""
    out = TextureNode(start=no_job).evaluate(quick(image), cache, batch=True)
    assert out.status == "cached" and out.progress == 1.0, out.message
    path = Path(out.output_path)
    assert path.is_file() and path.suffix == ".png" and path.is_relative_to(cache.root)
    again = TextureNode(start=no_job).evaluate(quick(image), cache, batch=False)
    assert again.status == "cached" and again.output_path == out.output_path


@pytest.mark.slow
def test_udim_sets_keep_the_token(cache, tmp_path):
    """A UDIM source gives a result path with <UDIM>, whose tiles exist in the cache."""
    for tile in (1001, 1002):
        write_image(tmp_path / f"skin.{tile}.png", noisy_version(pattern(24), seed=tile))
    out = TextureNode().evaluate(quick(tmp_path / "skin.<UDIM>.png"), cache, batch=True)
    assert out.status == "cached" and "<UDIM>" in out.output_path, out.message
    assert all(Path(out.output_path.replace("<UDIM>", t)).is_file() for t in ("1001", "1002"))


@pytest.mark.slow
def test_interactive_runs_in_the_background_and_dirties_when_done(cache, image):
    """Interactive: 'running' at once with no path; on_change fires when the worker is done;
    the next evaluation answers 'cached' with the result's path."""
    dirty = Dirty()
    node = TextureNode(on_change=dirty)
    first = node.evaluate(quick(image), cache, batch=False)
    assert first.status == "running" and first.output_path == ""
    handle = node.state.handle
    assert handle is not None and handle.wait(120) == "done", handle.message
    assert dirty.event.wait(10) and dirty.calls >= 1
    second = node.evaluate(quick(image), cache, batch=False)
    assert second.status == "cached" and Path(second.output_path).is_file()
    assert node.state.handle is None  # nothing left running


@pytest.mark.slow
def test_new_inputs_cancel_the_running_job_and_keep_the_last_good_path(cache, image):
    """A new key cancels the job of the old one; meanwhile the last good path stays the output."""
    done = TextureNode().evaluate(quick(image), cache, batch=True)
    node = TextureNode(on_change=Dirty())
    assert node.evaluate(quick(image), cache, batch=False).output_path == done.output_path
    slow = node.evaluate(quick(image, seed=1, max_iterations=100_000), cache, batch=False)
    assert slow.status == "running" and slow.output_path == done.output_path
    old = node.state.handle
    newer = node.evaluate(quick(image, seed=2, max_iterations=100_000), cache, batch=False)
    assert newer.status == "running" and old is not None and old.wait(10) == "cancelled"
    current = node.state.handle
    node.dispose()
    assert current is not None and current.wait(10) == "cancelled"
    assert [e.key for e in cache.entries()] == [done_key(cache)]


def done_key(cache: ResultCache) -> str:
    (entry,) = cache.entries()
    return entry.key


@pytest.mark.slow
def test_restore_now_fills_the_cache_for_the_node(cache, image):
    """opRestoreTexture -now: the engine runs synchronously; a node then answers at once."""
    path = restore_now(quick(image), cache)
    out = TextureNode(start=no_job).evaluate(quick(image), cache, batch=False)
    assert out.status == "cached" and out.output_path == path


def test_a_failed_job_is_not_restarted_until_the_inputs_change(cache, image):
    """A job that failed stays failed (no endless restart loop) until an input changes."""
    started = []

    class Failed:
        state, fraction, entry = "failed", 0.0, None
        message = "The worker ran out of memory; use a smaller tile."

        def cancel(self):
            raise AssertionError("a finished job is not cancelled")

    def start(job, root, on_change):
        started.append(job.key())
        on_change(Failed())
        return Failed()

    dirty = Dirty()
    node = TextureNode(on_change=dirty, start=start)
    for _ in range(3):
        out = node.evaluate(quick(image), cache, batch=False)
        assert out.status == "failed" and out.message == Failed.message
    assert len(started) == 1 and dirty.calls == 1
    node.evaluate(quick(image, seed=5), cache, batch=False)
    assert len(started) == 2


def test_progress_reports_are_throttled_but_the_finish_always_dirties(cache, image):
    """Fast progress lines dirty the node a few times a second at most; the end always does."""
    class Handle:
        state, fraction, message, entry = "running", 0.1, "fitting", None

        def cancel(self):
            self.state = "cancelled"

    holder: dict[str, object] = {}

    def start(job, root, on_change):
        holder["report"] = on_change
        return Handle()

    dirty = Dirty()
    state = JobState(on_change=dirty, start=start)
    job = quick(image).job()
    state.evaluate(job, cache, batch=False)
    for _ in range(50):
        holder["report"](None)
    assert dirty.calls == 1
    state.handle.state = "done"
    holder["report"](None)
    assert dirty.calls == 2
    state.reset()
    holder["report"](None)
    assert dirty.calls == 2  # a job of forgotten inputs never dirties the node


def test_unchanged_files_are_not_hashed_again(cache, image, monkeypatch):
    """Re-evaluating unchanged inputs reuses the key; a rewritten file is hashed (keyed) again."""
    from openpipeline.engine.texture.job import TextureJob

    calls = []
    real_key = TextureJob.key
    monkeypatch.setattr(TextureJob, "key", lambda job: calls.append(1) or real_key(job))

    class Running:
        state, fraction, message, entry = "running", 0.0, "", None

        def cancel(self):
            self.state = "cancelled"

    node = TextureNode(start=lambda job, root, on_change: Running())
    for _ in range(3):
        assert node.evaluate(quick(image), cache, batch=False).status == "running"
    assert len(calls) == 1
    write_image(image, noisy_version(pattern(24), seed=9))
    os.utime(image, ns=(1, 1))  # a new modification time, whatever the clock's resolution
    node.evaluate(quick(image), cache, batch=False)
    assert len(calls) == 2


def test_cache_by_root_resolves_again_only_every_few_seconds(tmp_path):
    from openpipeline.dg.caches import CacheByRoot

    now, roots, calls = [0.0], [tmp_path / "a"], []
    caches = CacheByRoot(lambda: calls.append(1) or roots[0], every=2.0, clock=lambda: now[0])
    first = caches()
    roots[0] = tmp_path / "b"
    assert caches() is first and len(calls) == 1  # within 2 s: no resolution
    now[0] = 2.5
    assert caches().root == tmp_path / "b" and len(calls) == 2
    roots[0], now[0] = tmp_path / "a", 5.0
    assert caches() is first


@pytest.mark.slow
def test_a_cached_result_shows_its_warnings_on_the_status_message(cache, tmp_path):
    """Grain read on a grey grass scan (σ estimated): the run's warning about its noise
    level is the cached answer's message, in batch and from the cache; a result without
    warnings has an empty message."""
    import numpy as np
    from scipy.ndimage import gaussian_filter
    from skimage import data
    from skimage.util import img_as_float32

    grass = img_as_float32(data.grass())[:128, :128, None]
    grain = gaussian_filter(np.random.default_rng(0).normal(0, 1, grass.shape[:2]), 0.8)
    scan = tmp_path / "grass.tif"
    write_image(scan, np.clip(grass + (grain / grain.std() * 15 / 255)[..., None], 0, 1), dtype="uint16")
    inputs = TextureInputs(file_path=str(scan))
    out = TextureNode(start=no_job).evaluate(inputs, cache, batch=True)
    assert out.status == "cached" and "correlated grain" in out.message and "--sigma" in out.message
    again = TextureNode(start=no_job).evaluate(inputs, cache, batch=False)
    assert again.status == "cached" and again.message == out.message
    with_sigma = TextureInputs(file_path=str(scan), sigma=15)
    given = TextureNode(start=no_job).evaluate(with_sigma, cache, batch=True)
    assert given.status == "cached" and given.message == ""


@pytest.mark.parametrize(("warnings", "message"), [
    (None, ""),
    ([], ""),
    (["Grain read high."], "Grain read high."),
    (["First.", "Second.", "Third."], "First. (and 2 more warnings)"),
    (["First.", 7, None, "Second."], "First. (and 1 more warning)"),
    ("not a list", ""),
    ({"a": 1}, ""),
])
def test_a_cached_answer_shows_the_first_warning_and_ignores_hand_edited_ones(tmp_path, warnings, message):
    """The status message of a cached result: its first warning and how many more; a meta
    whose warnings were hand-edited into something else than sentences shows none of it."""
    from openpipeline.dg.state import _cached
    from openpipeline.engine.cache import Entry

    meta = {"files": ["out.png"]} if warnings is None else {"files": ["out.png"], "warnings": warnings}
    answer = _cached(Entry("texture", "0" * 64, tmp_path, meta, 0))
    assert (answer.status, answer.fraction, answer.message) == ("cached", 1.0, message)
