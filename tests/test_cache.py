"""The result cache on real files and real processes: publish, read, prune, damage, races, CLI."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from openpipeline.engine.cache import (
    CACHE_ENV,
    CACHE_SIZE_ENV,
    ResultCache,
    cache_root,
    parse_size,
    user_cache_dir,
)
from openpipeline.engine.errors import EngineInputError
from tests.helpers.cli import REPO, cli_json, run_cli

KEYS = [hashlib.sha256(str(n).encode()).hexdigest() for n in range(8)]


def _builder(content: bytes, name: str = "result.bin"):
    def build(folder: Path) -> dict:
        (folder / name).write_bytes(content)
        return {"files": [name], "sha": hashlib.sha256(content).hexdigest()}
    return build


def _entry_folders(root: Path, kind: str = "texture") -> list[Path]:
    base = root / kind
    return sorted(p for shard in base.iterdir() for p in shard.iterdir()) if base.is_dir() else []


def _leftovers(root: Path) -> list[str]:
    folders = [root / name for name in (".staging", ".trash") if (root / name).is_dir()]
    return [p.name for folder in folders for p in folder.iterdir()]


def test_put_publishes_a_whole_entry_and_get_finds_it(tmp_path):
    """put writes the files and meta.json into <kind>/<key[:2]>/<key>; get returns the same entry."""
    cache = ResultCache(tmp_path)
    entry = cache.put("texture", KEYS[0], _builder(b"pixels"))
    assert entry.folder == tmp_path / "texture" / KEYS[0][:2] / KEYS[0]
    meta = json.loads((entry.folder / "meta.json").read_text())
    assert meta["files"] == ["result.bin"] and meta["kind"] == "texture" and meta["key"] == KEYS[0]
    assert "created" in meta
    found = cache.get("texture", KEYS[0])
    assert found is not None and found.files()[0].read_bytes() == b"pixels" and found.meta == entry.meta
    assert cache.get("scatter", KEYS[0]) is None and cache.get("texture", KEYS[1]) is None
    assert _leftovers(tmp_path) == []


def test_a_failing_build_leaves_nothing(tmp_path):
    """A build that raises leaves no entry and no staging folder; the error reaches the caller."""
    cache = ResultCache(tmp_path)

    def build(folder: Path) -> dict:
        (folder / "half.bin").write_bytes(b"x" * 1000)
        raise EngineInputError("The input is bad.")

    with pytest.raises(EngineInputError, match="input is bad"):
        cache.put("texture", KEYS[0], build)
    assert cache.get("texture", KEYS[0]) is None and _entry_folders(tmp_path) == []
    assert _leftovers(tmp_path) == []


def test_a_build_must_name_the_files_it_wrote(tmp_path):
    """A build that names a file it did not write is refused, and nothing is published."""
    cache = ResultCache(tmp_path)
    with pytest.raises(ValueError, match="files"):
        cache.put("texture", KEYS[0], lambda folder: {"files": ["missing.bin"]})
    assert _entry_folders(tmp_path) == []


@pytest.mark.parametrize("damage", ["no meta", "bad json", "wrong key", "missing file", "meta not a dict"])
def test_a_damaged_entry_is_a_miss_and_prune_removes_it(tmp_path, damage):
    """An entry with missing or bad meta.json, or a missing file, is absent; prune removes it and
    the next put publishes a good one in its place."""
    cache = ResultCache(tmp_path)
    entry = cache.put("texture", KEYS[0], _builder(b"pixels"))
    meta = entry.folder / "meta.json"
    if damage == "no meta":
        meta.unlink()
    elif damage == "bad json":
        meta.write_text("{not json")
    elif damage == "wrong key":
        meta.write_text(json.dumps({**entry.meta, "key": KEYS[1]}))
    elif damage == "meta not a dict":
        meta.write_text("[1, 2]")
    else:
        (entry.folder / "result.bin").unlink()
    assert cache.get("texture", KEYS[0]) is None and cache.entries() == []
    again = cache.put("texture", KEYS[0], _builder(b"fresh"))  # replaces the damaged folder
    assert again.files()[0].read_bytes() == b"fresh"
    assert cache.get("texture", KEYS[0]) is not None
    (again.folder / "meta.json").unlink()
    assert cache.prune() == [] and _entry_folders(tmp_path) == [] and _leftovers(tmp_path) == []


def test_prune_removes_least_recently_used_first(tmp_path):
    """Prune keeps the most recently read entries: reading an old entry saves it from pruning."""
    cache = ResultCache(tmp_path)
    for key in KEYS[:4]:
        cache.put("texture", key, _builder(b"x" * 1000))
        time.sleep(0.02)
    time.sleep(0.02)
    assert cache.get("texture", KEYS[0]) is not None  # the oldest, now the most recently used
    size = cache.entries()[0].size
    removed = cache.prune(max_bytes=2 * size)
    assert [entry.key for entry in removed] == [KEYS[1], KEYS[2]]
    assert sorted(entry.key for entry in cache.entries()) == sorted([KEYS[0], KEYS[3]])
    assert [entry.key for entry in cache.entries()] == [KEYS[3], KEYS[0]]  # least recently used first
    assert _leftovers(tmp_path) == []


def test_put_prunes_to_the_cap_but_keeps_its_own_entry(tmp_path):
    """With a cap smaller than one entry, put still returns its entry whole; older ones go."""
    cache = ResultCache(tmp_path, max_bytes=10)
    cache.put("texture", KEYS[0], _builder(b"x" * 1000))
    time.sleep(0.02)
    entry = cache.put("texture", KEYS[1], _builder(b"y" * 1000))
    assert entry.files()[0].read_bytes() == b"y" * 1000
    assert [e.key for e in cache.entries()] == [KEYS[1]]


def test_clear_and_prune_never_follow_links_out_of_the_cache(tmp_path):
    """A link in the cache (an entry folder, or a file inside one) is removed as a link; what it
    points at outside the cache is untouched."""
    outside = tmp_path / "precious"
    outside.mkdir()
    (outside / "keep.txt").write_text("mine")
    root = tmp_path / "cache"
    cache = ResultCache(root)
    entry = cache.put("texture", KEYS[0], _builder(b"x"))
    (entry.folder / "link").symlink_to(outside)
    fake = root / "texture" / KEYS[1][:2] / KEYS[1]
    fake.parent.mkdir(parents=True, exist_ok=True)
    fake.symlink_to(outside)
    assert cache.get("texture", KEYS[1]) is None  # a linked entry folder is not an entry
    assert cache.clear() == 2
    assert (outside / "keep.txt").read_text() == "mine" and not fake.is_symlink()
    assert _entry_folders(root) == []


def test_cache_root_and_size_rules(tmp_path, monkeypatch):
    """$OPENPIPELINE_CACHE wins, then the project's folder, then the user cache (XDG on Linux);
    $OPENPIPELINE_CACHE_SIZE sets the cap and a bad value is refused with a sentence."""
    monkeypatch.delenv(CACHE_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    if sys.platform.startswith("linux"):
        assert user_cache_dir() == tmp_path / "xdg" / "openpipeline"
    assert cache_root() == user_cache_dir()
    assert cache_root(tmp_path / "proj") == tmp_path / "proj"
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "farm"))
    assert cache_root(tmp_path / "proj") == tmp_path / "farm"
    assert parse_size("10G") == 10 * 1024**3 and parse_size("1.5k") == 1536
    monkeypatch.setenv(CACHE_SIZE_ENV, "3M")
    assert ResultCache(tmp_path).max_bytes == 3 * 1024**2
    monkeypatch.setenv(CACHE_SIZE_ENV, "lots")
    with pytest.raises(EngineInputError, match="not a size"):
        ResultCache(tmp_path)


# -- real processes -------------------------------------------------------------
WRITER = """
import hashlib, sys, time
from pathlib import Path
from openpipeline.engine.cache import ResultCache
root, key, start, tag = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
while time.time() < start:
    time.sleep(0.001)
content = b"result of the one key" * 50_000
def build(folder):
    with open(folder / "result.bin", "wb") as handle:
        for offset in range(0, len(content), 100_000):  # slowly, so the writers overlap
            handle.write(content[offset:offset + 100_000])
            time.sleep(0.01)
    return {"files": ["result.bin"], "writer": tag}
entry = ResultCache(Path(root)).put("texture", key, build)
data = entry.files()[0].read_bytes()
print(entry.meta["writer"], hashlib.sha256(data).hexdigest() == hashlib.sha256(content).hexdigest())
"""


def _python(code: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=REPO,
                            env={**os.environ, "PYTHONPATH": str(REPO)})


@pytest.mark.slow
def test_parallel_writers_of_one_key_leave_one_entry(tmp_path):
    """Six processes build the same key at once: one entry is published, every process gets a
    whole, valid result (the same writer's), and no staging folder is left."""
    start = str(time.time() + 1.5)
    writers = [_python(WRITER, str(tmp_path), KEYS[0], start, f"w{n}") for n in range(6)]
    answers = []
    for writer in writers:
        out, err = writer.communicate(timeout=60)
        assert writer.returncode == 0, err
        answers.append(out.split())
    assert [folder.name for folder in _entry_folders(tmp_path)] == [KEYS[0]]
    winner = ResultCache(tmp_path).get("texture", KEYS[0])
    assert winner is not None
    assert all(valid == "True" for _, valid in answers)
    assert {tag for tag, _ in answers} == {winner.meta["writer"]}
    assert _leftovers(tmp_path) == []


READER = """
import hashlib, sys, time
from pathlib import Path
from openpipeline.engine.cache import ResultCache
root, start, until, keys = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4:]
cache = ResultCache(Path(root), max_bytes=10**12)
hits = bad = 0
while time.time() < start:  # every process imported: they all run over the same seconds
    time.sleep(0.001)
while time.time() < until:
    for key in keys:
        entry = cache.get("texture", key)
        if entry is None:
            continue
        try:
            data = entry.files()[0].read_bytes()
        except FileNotFoundError:  # removed (whole) between get and open: a miss, not damage
            continue
        hits += 1
        bad += hashlib.sha256(data).hexdigest() != entry.meta["sha"]
print(hits, bad)
"""

CHURN = """
import hashlib, random, sys, time
from pathlib import Path
from openpipeline.engine.cache import ResultCache
root, start, until, keys = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4:]
cache = ResultCache(Path(root), max_bytes=3 * 400_000)  # room for about two: put prunes the rest
n = 0
while time.time() < start:
    time.sleep(0.001)
while time.time() < until:
    key = keys[n % len(keys)]
    content = random.Random(key).randbytes(400_000)  # one key, one result (as for a job)
    def build(folder, content=content):
        with open(folder / "result.bin", "wb") as handle:
            for offset in range(0, len(content), 50_000):
                handle.write(content[offset:offset + 50_000])
        return {"files": ["result.bin"], "sha": hashlib.sha256(content).hexdigest()}
    cache.put("texture", key, build)
    n += 1
print(n)
"""


@pytest.mark.slow
def test_readers_never_see_a_half_written_or_half_removed_entry(tmp_path):
    """While two processes keep publishing and pruning entries, two reader processes check every
    entry they get: each file is whole and matches the digest its meta recorded.

    (A key's result is the same whoever computes it; a reader that loses a race between its
    get and its open reads another whole copy of that result, or nothing.)"""
    start = time.time() + 2  # time to import, even with the other cores busy (pytest-xdist)
    times = (str(start), str(start + 4))
    churners = [_python(CHURN, str(tmp_path), *times, *KEYS[n::2]) for n in range(2)]
    readers = [_python(READER, str(tmp_path), *times, *KEYS) for _ in range(2)]
    for process in churners + readers:
        process.wait(timeout=60)
    results = []
    for reader in readers:
        out, err = reader.communicate()
        assert reader.returncode == 0, err
        results.append([int(word) for word in out.split()])
    for churner in churners:
        out, err = churner.communicate()
        assert churner.returncode == 0, err
        assert int(out) > 2
    assert all(bad == 0 for _, bad in results) and sum(hits for hits, _ in results) > 0, results


# -- the command line -------------------------------------------------------------
@pytest.fixture
def inputs(tmp_path):
    from openpipeline.engine.images import write_image
    from openpipeline.engine.scatter.primitives import icosphere
    from tests.helpers.images import noisy_version, pattern
    from tests.test_scatter_cli import write_obj

    write_image(tmp_path / "in.png", noisy_version(pattern(32)))
    write_obj(icosphere(2), tmp_path / "ball.obj", with_uvs=False)
    return tmp_path


def _timed(*args: str, env: dict[str, str]) -> tuple[dict, float]:
    start = time.perf_counter()
    data = cli_json(*args, env=env)
    return data, time.perf_counter() - start


@pytest.mark.slow
def test_second_denoise_is_served_from_the_cache(inputs):
    """The same denoise twice: the second says cached, and its output has the first's bytes."""
    env = {CACHE_ENV: str(inputs / "cache")}
    args = ["texture", "denoise", str(inputs / "in.png"), "--max-iterations", "10", "--quiet",
            "--threads", "1"]
    first, first_seconds = _timed(*args[:3], str(inputs / "a.png"), *args[3:], env=env)
    second, second_seconds = _timed(*args[:3], str(inputs / "b.png"), *args[3:], env=env)
    print(f"\ndenoise: first run {first_seconds:.2f} s, cached run {second_seconds:.2f} s")
    assert first["cached"] is False and second["cached"] is True
    assert second["files"] == [str(inputs / "b.png")] and second["iterations"] == first["iterations"] == 10
    assert (inputs / "a.png").read_bytes() == (inputs / "b.png").read_bytes()
    bypass = cli_json(*args[:3], str(inputs / "d.png"), *args[3:], "--no-cache", "--seed", "1", env=env)
    assert bypass["cached"] is False and (inputs / "d.png").is_file()
    assert cli_json("cache", "show", env=env)["entries"] == 1  # --no-cache keeps nothing


@pytest.mark.slow
def test_second_scatter_is_served_from_the_cache(inputs):
    """The same scatter twice: the second says cached and writes the first's bytes (npz and json)."""
    env = {CACHE_ENV: str(inputs / "cache")}
    mesh = str(inputs / "ball.obj")
    first, first_seconds = _timed("scatter", mesh, str(inputs / "a.npz"), "--count", "400", "--quiet",
                                  env=env)
    second, second_seconds = _timed("scatter", mesh, str(inputs / "b.npz"), "--count", "400", "--quiet",
                                    env=env)
    print(f"\nscatter: first run {first_seconds:.2f} s, cached run {second_seconds:.2f} s")
    assert first["cached"] is False and second["cached"] is True
    assert {k: v for k, v in first.items() if k not in ("cached", "output")} == \
           {k: v for k, v in second.items() if k not in ("cached", "output")}
    assert (inputs / "a.npz").read_bytes() == (inputs / "b.npz").read_bytes()
    cli_json("scatter", mesh, str(inputs / "a.json"), "--count", "400", "--quiet", env=env)
    cli_json("scatter", mesh, str(inputs / "b.json"), "--count", "400", "--quiet", env=env)
    assert (inputs / "a.json").read_bytes() == (inputs / "b.json").read_bytes()
    assert cli_json("cache", "show", env=env)["kinds"] == {"scatter": 1}


def test_cache_command_show_prune_clear(tmp_path):
    """cache show counts entries and bytes; prune --max-size removes down to it; clear empties it."""
    root = tmp_path / "cache"
    cache = ResultCache(root)
    for key in KEYS[:3]:
        cache.put("texture", key, _builder(b"x" * 2000))
        time.sleep(0.02)
    env = {CACHE_ENV: str(root)}
    shown = cli_json("cache", "show", env=env)
    assert shown["root"] == str(root) and shown["entries"] == 3 and shown["bytes"] == cache.total_bytes()
    pruned = cli_json("cache", "prune", "--max-size", "5K", env=env)
    assert pruned["removed"] == 1 and pruned["entries"] == 2
    assert sorted(e.key for e in cache.entries()) == sorted(KEYS[1:3])
    assert cli_json("cache", "clear", env=env)["removed"] == 2
    text = run_cli("cache", "show", env=env)
    assert text.returncode == 0 and "0 result(s)" in text.stdout
    bad = run_cli("cache", "prune", "--max-size", "huge", env=env)
    assert bad.returncode == 2 and "not a size" in bad.stderr


def test_the_selected_project_holds_the_cache(tmp_path, monkeypatch):
    """Without $OPENPIPELINE_CACHE, a selected project's .openpipeline/cache is used; with no
    project, the user's cache folder."""
    from openpipeline.core import Project

    project = Project.create(tmp_path / "proj", "demo")
    env = {CACHE_ENV: "", "XDG_CACHE_HOME": str(tmp_path / "xdg")}
    shown = cli_json("--project", str(project.root), "cache", "show", env=env)
    assert shown["root"] == str(project.root / ".openpipeline" / "cache")
    if sys.platform.startswith("linux"):
        assert cli_json("cache", "show", env=env)["root"] == str(tmp_path / "xdg" / "openpipeline")


def test_the_nodes_rule_never_fails_over_the_project(tmp_path, monkeypatch):
    """The nodes' project cache: the selected project's, None without one, and None (the
    user's cache) for a broken $OPENPIPELINE_PROJECT, where the CLI's rule refuses."""
    from openpipeline.core import Project
    from openpipeline.core.errors import UserError
    from openpipeline.core.selection import PROJECT_ENV, selected_project_cache

    project = Project.create(tmp_path / "proj", "demo")
    monkeypatch.setenv(PROJECT_ENV, str(project.root))
    assert selected_project_cache(strict=False) == project.root / ".openpipeline" / "cache"
    monkeypatch.setenv(PROJECT_ENV, str(tmp_path / "gone"))
    assert selected_project_cache(strict=False) is None
    with pytest.raises(UserError):
        selected_project_cache()


# -- review findings: links and damaged entries -----------------------------------------
def _rewrite_meta(folder: Path, **changes) -> None:
    meta = json.loads((folder / "meta.json").read_text())
    meta.update(changes)
    (folder / "meta.json").write_text(json.dumps(meta))


def test_get_never_truncates_a_file_through_a_planted_used_link(tmp_path):
    cache = ResultCache(tmp_path / "cache")
    entry = cache.put("texture", KEYS[0], _builder(b"x" * 100, "restored.png"))
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    used = entry.folder / ".used"
    if os.path.lexists(used):
        used.unlink()
    used.symlink_to(victim)
    assert cache.get("texture", KEYS[0]) is None  # a planted link makes the entry damaged
    assert victim.read_text() == "precious"
    cache.prune(10**9)
    assert victim.read_text() == "precious" and not entry.folder.exists()


def test_scatter_entry_with_a_linked_points_file_is_a_miss(tmp_path):
    cache = ResultCache(tmp_path / "cache")
    entry = cache.put("scatter", KEYS[0], _builder(b"p", "points.npz"))
    _rewrite_meta(entry.folder, files=[])
    (entry.folder / "points.npz").unlink()
    (tmp_path / "secret").write_bytes(b"outside")
    (entry.folder / "points.npz").symlink_to(tmp_path / "secret")
    assert cache.get("scatter", KEYS[0]) is None
    _rewrite_meta(entry.folder, files=["points.npz"])
    assert cache.get("scatter", KEYS[0]) is None  # listed but a link: still a miss


def test_texture_entry_with_no_files_is_a_miss(tmp_path):
    cache = ResultCache(tmp_path / "cache")
    entry = cache.put("texture", KEYS[0], _builder(b"x", "restored.png"))
    _rewrite_meta(entry.folder, files=[])
    assert cache.get("texture", KEYS[0]) is None


@pytest.mark.parametrize("tiles", [["../../escaped"], ["1001", "1002"], ["1001", ""], [1001], "1001"])
def test_texture_entry_with_bad_udim_tiles_is_a_miss(tmp_path, tiles):
    cache = ResultCache(tmp_path / "cache")
    entry = cache.put("texture", KEYS[0], _builder(b"x", "restored.png"))
    _rewrite_meta(entry.folder, tiles_of=tiles)
    if tiles == ["1001", ""]:
        (entry.folder / "restored.2.png").write_bytes(b"y")
        _rewrite_meta(entry.folder, files=["restored.png", "restored.2.png"])
    assert cache.get("texture", KEYS[0]) is None


def test_a_linked_cache_root_is_pruned_shown_and_cleared(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    cache = ResultCache(tmp_path / "link")
    cache.put("texture", KEYS[0], _builder(b"x" * 100))
    cache.put("texture", KEYS[1], _builder(b"y" * 100))
    assert len(cache.entries()) == 2 and cache.total_bytes() > 0
    assert len(cache.prune(1, keep=cache.folder("texture", KEYS[1]))) == 1
    assert cache.get("texture", KEYS[1]) is not None
    assert cache.clear() == 1
    assert (tmp_path / "link").is_symlink()


# -- the meshes the scatter nodes save under <root>/inputs/ ------------------------------
def test_saved_inputs_are_counted_cleared_and_pruned_least_recently_used_first(tmp_path):
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    old, new = inputs / f"{KEYS[0]}.npz", inputs / f"{KEYS[1]}.npz"
    old.write_bytes(b"m" * 1000)
    new.write_bytes(b"n" * 1000)
    os.utime(old, (time.time() - 100, time.time() - 100))
    cache = ResultCache(tmp_path)
    assert cache.total_bytes() == 2000
    cache.prune(1500)
    assert not old.exists() and new.exists()
    cache.put("texture", KEYS[2], _builder(b"x"))
    cache.clear()
    assert not list(inputs.iterdir()) and cache.total_bytes() == 0


def test_a_node_using_a_saved_mesh_marks_it_used(tmp_path):
    from openpipeline.dg.scatter_node import mesh_file
    from openpipeline.engine.scatter.primitives import icosphere

    path, _ = mesh_file(tmp_path, icosphere(1))
    os.utime(path, (1000, 1000))
    assert mesh_file(tmp_path, icosphere(1))[0] == path
    assert path.stat().st_mtime > 1000


# -- the cache's own cap, and pruning after a put without a scan each time ----------------
def test_the_caches_own_cap_wins_over_one_artists_environment(tmp_path, monkeypatch):
    root = tmp_path / "shared"
    env = {CACHE_ENV: str(root), CACHE_SIZE_ENV: "1K"}
    assert cli_json("cache", "limit", "5M", env=env)["limit"] == 5 * 1024**2
    assert json.loads((root / "cache.json").read_text()) == {"max_bytes": 5 * 1024**2}
    monkeypatch.setenv(CACHE_SIZE_ENV, "1K")
    cache = ResultCache(root)
    assert cache.max_bytes == 5 * 1024**2
    cache.put("texture", KEYS[0], _builder(b"x" * 4000))
    cache.put("texture", KEYS[1], _builder(b"y" * 4000))
    assert len(cache.entries()) == 2  # the artist's 1K would have pruned the team's results
    assert cli_json("cache", "show", env=env)["max_bytes"] == 5 * 1024**2
    assert cli_json("cache", "limit", "--unset", env=env)["limit"] is None
    assert ResultCache(root).max_bytes == 1024


def test_put_prunes_without_scanning_the_cache_each_time(tmp_path, monkeypatch):
    cache = ResultCache(tmp_path, max_bytes=10**9)
    scans = []
    real_scan = cache._scan
    monkeypatch.setattr(cache, "_scan", lambda: scans.append(1) or real_scan())
    for key in KEYS[:5]:
        cache.put("texture", key, _builder(key.encode()))
    assert len(scans) == 1  # the first put prunes; the others only add to the estimate
    small = ResultCache(tmp_path / "small", max_bytes=1000)  # an entry is about 350 bytes with its meta
    for key in KEYS[:5]:
        small.put("texture", key, _builder(b"z" * 100))
        assert small.total_bytes() <= 1000  # over the cap by estimate: pruned at once
