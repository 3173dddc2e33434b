"""A damaged or foreign index through the front ends: `citebot ask`, `source` and `cite` print
one line naming `citebot index build` and exit 2, answer nothing and change nothing; `citebot
telegram` refuses to start. The damage is done to the files the manifest lists (whatever the
index format holds), the way disks and copies damage them: truncated, zeroed, one bit flipped.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import ROOT, run_cli
from fake_bot_api import FakeBotAPI

DAMAGES = ("truncate", "zero", "flip")
COMMANDS = {"ask": ["ask", "How many Kenyan police officers arrived?"],
            "source": ["source", "mss-renewal:p3"],
            "cite": ["cite", "the Haitian government's urgent request"]}  # exact: no model


def damage(path: Path, how: str) -> None:
    """Damage a file as a disk or a bad copy would (written as a new file: the copies share
    the others with the session's index, see copy_index)."""
    data = bytearray(path.read_bytes())
    if how == "truncate":
        data = data[: len(data) // 2]
    elif how == "zero":
        data = bytearray(len(data))
    if how == "flip" or bytes(data) == path.read_bytes():  # (a file of zeros stays one)
        data[len(data) // 2] ^= 0x01
    path.unlink()
    path.write_bytes(bytes(data))


def copy_index(src: Path, dest: Path) -> Path:
    """A copy of an index folder: the generation files (the ONNX encoder alone is ~90 MB)
    hard-linked, which nothing here writes in place; the manifest and the rest copied."""
    def copy(s, d):
        if "/gen-" in Path(s).as_posix():
            os.link(s, d)
        else:
            shutil.copy2(s, d)

    shutil.copytree(src, dest, copy_function=copy)
    return dest


def manifest_of(index: Path) -> dict:
    return json.loads((index / "manifest.json").read_text(encoding="utf-8"))


def snapshot(index: Path) -> dict:
    """Every file of the index folder with its inode, size and times: a rebuild, a rewrite or
    a new file shows (to see that a refusal changed nothing)."""
    out = {}
    for p in sorted(index.rglob("*")):
        if p.is_file() and p.name != ".lock":
            st = p.stat()
            out[p.relative_to(index).as_posix()] = (st.st_ino, st.st_size, st.st_mtime_ns)
    return out


@pytest.fixture()
def index_copy(seed_bot, seed_dir, tmp_path):
    """A private copy of the session's seed index, and the environment pointing at it."""
    index = copy_index(seed_bot.config.index, tmp_path / "index")
    env = {"CITEBOT_CORPUS": str(seed_dir), "CITEBOT_INDEX": str(index),
           "CITEBOT_AUTO_BUILD": "1"}
    return index, env


def assert_refused(code: int, out: str, err: str, why: str = "") -> None:
    """Exit 2, nothing on stdout, one line on stderr that names the fix, no traceback."""
    assert code == 2, (code, out, err)
    assert out == "", out
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("citebot: error: "), err
    assert "citebot index build" in lines[0] and why in lines[0], lines[0]


def cli_in_process(args, env):
    """The real `citebot` command group, in this process (no model is loaded: the index is
    refused first), for the many cases; the subprocess tests below run it as users do."""
    from bot.cli import cli

    r = CliRunner().invoke(cli, args, env=env)
    return r.exit_code, r.stdout, r.stderr


def test_every_index_file_damaged_is_caught_before_answering(index_copy):
    index, env = index_copy
    files = sorted(manifest_of(index)["files"])
    assert len(files) >= 5 and "faiss.index" in files
    for i, rel in enumerate(files):
        work = copy_index(index, index.parent / f"index-{i}")
        how = DAMAGES[i % len(DAMAGES)]
        damage(work / manifest_of(work)["generation"] / rel, how)
        before = snapshot(work)
        code, out, err = cli_in_process(COMMANDS["ask"], {**env, "CITEBOT_INDEX": str(work)})
        assert_refused(code, out, err, why=rel)
        assert "damaged" in err, (rel, how, err)
        assert snapshot(work) == before  # not rebuilt behind the user's back, nothing changed


@pytest.mark.parametrize("how", DAMAGES)
def test_damaged_index_through_each_command(index_copy, how):
    index, env = index_copy
    rel = "faiss.index"  # FAISS reads some damaged files without an error: checksums catch it
    damage(index / manifest_of(index)["generation"] / rel, how)
    before = snapshot(index)
    for args in COMMANDS.values():
        r = run_cli(*args, env=env)
        assert_refused(r.returncode, r.stdout.decode(), r.stderr.decode(), why=rel)
        assert b"Traceback" not in r.stderr
    assert snapshot(index) == before


def test_missing_manifest(index_copy):
    index, env = index_copy
    (index / "manifest.json").unlink()
    before = snapshot(index)
    for args in COMMANDS.values():
        r = run_cli(*args, env={**env, "CITEBOT_AUTO_BUILD": "0"})
        assert_refused(r.returncode, r.stdout.decode(), r.stderr.decode(),
                       why="has no manifest.json")
    assert snapshot(index) == before
    # With auto-build on (the default), the index is built again, and that is said.
    r = run_cli(*COMMANDS["source"], env=env)
    assert r.returncode == 0, r.stderr
    assert "has no manifest.json (a build that did not finish, or a lost file): building it " \
           "again" in r.stderr.decode()
    assert "[mss-renewal:p3]" in r.stdout.decode()
    assert (index / "manifest.json").is_file()


@pytest.mark.parametrize("change", ["model", "format", "unreadable", "generation", "count"])
def test_foreign_or_inconsistent_manifest(index_copy, change):
    index, env = index_copy
    manifest = manifest_of(index)
    why = {"model": "built with the model 'some-other-model'", "format": "format version 1",
           "unreadable": "is unreadable", "generation": "is missing",
           "count": "does not match"}[change]
    if change == "model":
        manifest["model"] = "some-other-model"
    elif change == "format":
        manifest["format_version"] = 1
    elif change == "generation":
        manifest["generation"] = "gen-that-was-deleted"
    elif change == "count":
        manifest["passages"] += 1  # the checksums still hold: the counts catch it
    text = "{not json" if change == "unreadable" else json.dumps(manifest)
    (index / "manifest.json").write_text(text, encoding="utf-8")
    before = snapshot(index)
    for args in COMMANDS.values():
        code, out, err = cli_in_process(args, env)  # auto-build on: still refused
        assert_refused(code, out, err, why=why)
    assert snapshot(index) == before


def test_telegram_refuses_to_start_on_a_damaged_index(index_copy):
    index, env = index_copy
    damage(index / manifest_of(index)["generation"] / "sentences.npy", "flip")
    with FakeBotAPI() as api, tempfile.TemporaryFile() as err:
        full = {**os.environ, **env, "TELEGRAM_BOT_TOKEN": api.token,
                "TELEGRAM_API_BASE_URL": api.base_url}
        full.pop("CITEBOT_DEBUG", None)
        r = subprocess.run([sys.executable, "-m", "bot", "telegram"], cwd=ROOT, env=full,
                           stdout=subprocess.PIPE, stderr=err, timeout=120)
        err.seek(0)
        lines = err.read().decode().strip().splitlines()
    assert r.returncode == 2 and r.stdout == b""
    assert lines[-1] == ("citebot: error: index file sentences.npy is damaged (checksum "
                         "mismatch) (run `citebot index build`)")
    assert not any("Traceback" in ln for ln in lines)
    methods = {c.method for c in api.calls}
    assert "getUpdates" not in methods and "sendMessage" not in methods  # never started
