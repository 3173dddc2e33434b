"""Errors that were internal errors (exit 1) are one clear line with exit 2 (issue 14, defect
11): a bad CITEBOT_THRESHOLD, a manifest of the wrong shape, a huge range id, a full disk, a
read-only index that needs a rebuild; and Ctrl-C is one line, never "internal error"."""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import time

import pytest
from conftest import ROOT, SEED_CORPUS, run_cli


def _one_line_exit_2(r, *words):
    err = r.stderr.decode()
    assert r.returncode == 2, err
    lines = err.splitlines()  # progress lines may come first; the error is the last one
    assert lines[-1].startswith("citebot: error: "), err
    assert sum(ln.startswith("citebot: error") for ln in lines) == 1, err
    assert "internal error" not in err and "Traceback" not in err
    for w in words:
        assert w in err, err


def test_a_threshold_that_is_not_a_number(cli_env):
    for bad in ("abc", "nan", "inf"):
        r = run_cli("ask", "Who is Brian A. Nichols?", env={**cli_env, "CITEBOT_THRESHOLD": bad})
        _one_line_exit_2(r, "CITEBOT_THRESHOLD")


def test_a_range_id_with_thousands_of_digits(cli_env):
    r = run_cli("source", "mss-renewal:0-" + "9" * 5000, env=cli_env)
    _one_line_exit_2(r, "no such citation")
    assert len(r.stderr) < 400


@pytest.fixture()
def index_copy(cli_env, tmp_path):
    index = tmp_path / "idx"
    shutil.copytree(cli_env["CITEBOT_INDEX"], index, ignore=shutil.ignore_patterns("cache"))
    return {**cli_env, "CITEBOT_INDEX": str(index), "CITEBOT_AUTO_BUILD": "0"}, index


@pytest.mark.parametrize("change, words", [
    (lambda m, i: m.update(passages="12"), ["`passages` is not a whole number"]),
    (lambda m, i: m.update(files=[]), ["`files` is not an object"]),
    (lambda m, i: m.update(dim=[384]), ["`dim`"]),
    (lambda m, i: m["files"].update({"../../etc/passwd": {"size": 1, "sha256": "0" * 64}}),
     ["not inside the build"]),
    (lambda m, i: m.update(generation=None), ["`generation`"]),
    (lambda m, i: m.update(generation="../other/" + m["generation"]), ["`generation`"]),
    (lambda m, i: m.update(generation=str(i / m["generation"])), ["`generation`"]),
])
def test_a_manifest_of_the_wrong_shape_is_damage(index_copy, change, words):
    env, index = index_copy
    path = index / "manifest.json"
    manifest = json.loads(path.read_text())
    other = index.parent / "other"
    shutil.copytree(index / manifest["generation"], other / manifest["generation"])
    change(manifest, index)
    path.write_text(json.dumps(manifest))
    for args in (["ask", "Who is Brian A. Nichols?"], ["source", "mss-renewal:p1"],
                 ["index", "verify"]):
        _one_line_exit_2(run_cli(*args, env=env), "damaged", *words)


def _limited(limit_bytes):
    def setup():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails: EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))
    return setup


def test_a_disk_that_takes_no_more_is_one_line_and_leaves_no_tmp(cli_env, tmp_path):
    index = tmp_path / "small-disk-index"
    env = {**os.environ, **cli_env, "CITEBOT_INDEX": str(index)}
    r = subprocess.run([sys.executable, "-m", "bot", "index", "build"], cwd=ROOT, env=env,
                       capture_output=True, timeout=300, preexec_fn=_limited(2 << 20))
    _one_line_exit_2(r, "cannot write the index at", "File too large", "free space")
    assert not [p for p in index.rglob("*") if ".tmp" in p.name], list(index.rglob("*"))
    assert not (index / "manifest.json").exists()


def test_add_to_a_disk_that_takes_no_more(tmp_path):
    src = tmp_path / "big.txt"
    src.write_text("A long one\n" + "word " * 300_000, encoding="utf-8")
    corpus = tmp_path / "corpus"
    r = subprocess.run([sys.executable, "-m", "bot", "add", "--no-index", str(src), "--corpus",
                        str(corpus)], cwd=ROOT, capture_output=True, timeout=120,
                       preexec_fn=_limited(1 << 20))
    _one_line_exit_2(r, "cannot write to the corpus", "File too large")
    assert list(corpus.iterdir()) == []


@pytest.fixture()
def read_only_index(cli_env, tmp_path):
    """The seed index on a file system mounted read-only (root can write through chmod)."""
    mnt = tmp_path / "ro"
    mnt.mkdir()
    if os.geteuid() == 0:
        if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=400m", "tmpfs", str(mnt)],
                          capture_output=True).returncode:
            pytest.skip("cannot mount a tmpfs here (needed to make a read-only folder as root)")
        try:
            shutil.copytree(cli_env["CITEBOT_INDEX"], mnt / "index")
            subprocess.run(["mount", "-o", "remount,ro", str(mnt)], check=True)
            yield mnt / "index"
        finally:
            subprocess.run(["umount", "-l", str(mnt)], capture_output=True)
    else:
        shutil.copytree(cli_env["CITEBOT_INDEX"], mnt / "index")
        for p in [mnt / "index", *(mnt / "index").rglob("*")]:
            p.chmod(p.stat().st_mode & ~0o222)
        try:
            yield mnt / "index"
        finally:
            for p in [mnt / "index", *(mnt / "index").rglob("*")]:
                p.chmod(p.stat().st_mode | 0o200)


def test_a_read_only_index_with_a_changed_corpus(read_only_index, tmp_path):
    corpus = tmp_path / "corpus"
    shutil.copytree(SEED_CORPUS, corpus, ignore=shutil.ignore_patterns(".*"))
    env = {"CITEBOT_CORPUS": str(corpus), "CITEBOT_INDEX": str(read_only_index)}
    manifest = json.loads((read_only_index / "manifest.json").read_text())
    manifest_sig = manifest["corpus_fingerprint"]
    (corpus / "harbour.md").write_text("---\ntitle: Harbour\n---\nThe ferry left at noon.\n")
    r = run_cli("ask", "When did the ferry leave?", env=env)
    _one_line_exit_2(r, "cannot write the index at", str(read_only_index))
    assert json.loads((read_only_index / "manifest.json").read_text())["corpus_fingerprint"] \
        == manifest_sig


def test_an_interrupt_that_surfaces_as_an_import_error_is_not_an_internal_error():
    code = (
        "import os, signal, time\n"
        "from bot.cli import cli\n"
        "@cli.command('boom')\n"
        "def boom():\n"
        "    try:\n"
        "        os.kill(os.getpid(), signal.SIGINT); time.sleep(1)\n"
        "    except KeyboardInterrupt:\n"
        "        pass  # what a C extension's failed import does with it\n"
        "    raise ImportError('initialization failed')\n"
        "cli(['boom'])\n")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, timeout=60)
    err = r.stderr.decode()
    assert r.returncode == 130, err
    assert err.strip() == "citebot: interrupted (files being written were discarded)"


@pytest.mark.parametrize("delay", [0.5, 1.0, 2.0, 3.5])
def test_ctrl_c_during_a_build_is_one_line(cli_env, tmp_path, delay):
    index = tmp_path / "index"
    env = {**os.environ, **cli_env, "CITEBOT_INDEX": str(index)}
    proc = subprocess.Popen([sys.executable, "-m", "bot", "index", "build"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    text = err.decode()
    assert "internal error" not in text and "Traceback" not in text, text
    if proc.returncode != 0:  # (a fast build may finish first)
        assert proc.returncode == 130, text
        assert text.strip().splitlines()[-1] == \
            "citebot: interrupted (files being written were discarded)"
        assert not [p for p in index.rglob("*") if ".tmp" in p.name] if index.exists() else True
