"""Builds beside serving: the corpus a build read, builds in the background (one per index,
coalesced, across processes), and following feeds with `citebot follow`."""

from __future__ import annotations

import json
import shutil
import time

from conftest import assert_exact_quotes, run_cli
from follow_fixtures import ENTRIES, LocalSite

VETO = "Which countries threatened a veto?"
CRANE = ("---\ntitle: Harbour crane collapses in Port Vell\n---\nA harbour crane in the town "
         "of Port Vell collapsed on Tuesday night during a storm. Nobody was hurt, the "
         "harbour master said.\n")


def _copy(seed_bot, seed_dir, tmp_path):
    """A private corpus and a copy of the session's index of it (copies keep file times)."""
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    shutil.copytree(seed_dir, corpus)
    shutil.copytree(seed_bot.config.index, index)
    return corpus, index, {"CITEBOT_CORPUS": str(corpus), "CITEBOT_INDEX": str(index)}


def _citebot(corpus, index, embedder, progress=None):
    from index.config import resolve
    from index.engine import Citebot

    return Citebot(resolve(corpus=corpus, index=index), progress=progress, embedder=embedder)


def test_a_corpus_change_during_a_build_is_seen_afterwards(seed_bot, seed_dir, embedder,
                                                           tmp_path):
    corpus, index, env = _copy(seed_bot, seed_dir, tmp_path)
    (tmp_path / "crane.md").write_text(CRANE, encoding="utf-8")
    r = run_cli("ask", "--json", VETO, env=env)
    assert json.loads(r.stdout)["citations"][0]["article"]["id"] == "mss-renewal"
    changed = []

    def hook(message):  # the build has read the corpus: change it now, as another user would
        if message.endswith(" sentences") and not changed:
            changed.append(run_cli("add", "--no-index", str(tmp_path / "crane.md"), env=env))
            changed.append(run_cli("remove", "--no-index", "mss-renewal", env=env))

    manifest = _citebot(corpus, index, embedder, hook).build()
    assert [c.returncode for c in changed] == [0, 0], [c.stderr for c in changed]
    assert manifest["articles"] == 2  # what the build read: the seed articles
    info = json.loads(run_cli("index", "info", "--json", env=env).stdout)
    assert info["corpus_changed"] is True  # not marked current: it was not read
    r = run_cli("ask", "--json", "What collapsed in Port Vell during the storm?", env=env)
    assert "the corpus changed since the index was built: rebuilding" in r.stderr.decode()
    answer = json.loads(r.stdout)
    assert answer["citations"][0]["article"]["title"] == "Harbour crane collapses in Port Vell"
    assert_exact_quotes(answer["citations"], corpus)
    r = run_cli("ask", "--json", "-k", "10", VETO, env=env)
    assert "rebuilding" not in r.stderr.decode()
    assert all(c["article"]["id"] != "mss-renewal" for c in json.loads(r.stdout)["citations"])
    assert json.loads(run_cli("index", "info", "--json", env=env).stdout)[
        "corpus_changed"] is False


def test_a_server_reload_never_builds(seed_bot, seed_dir, embedder, tmp_path):
    from index.store.store import read_manifest

    corpus, index, _env = _copy(seed_bot, seed_dir, tmp_path)
    bot = _citebot(corpus, index, embedder)
    generation = bot.searcher.store.manifest["generation"]
    (corpus / "crane.md").write_text(CRANE, encoding="utf-8")
    assert bot.reload_if_changed(build=False) is False  # stale, but not built here
    assert read_manifest(index)["generation"] == generation
    assert bot.store.manifest["generation"] == generation and bot.is_stale(read_manifest(index))


def test_background_builds_wait_for_other_processes_and_coalesce(seed_bot, seed_dir, embedder,
                                                                 tmp_path):
    from index.engine import build_lock
    from index.live.reloader import LiveIndex

    corpus, index, _env = _copy(seed_bot, seed_dir, tmp_path)
    bot = _citebot(corpus, index, embedder)
    generation = bot.searcher.store.manifest["generation"]
    live = LiveIndex(bot)
    try:
        (corpus / "crane.md").write_text(CRANE, encoding="utf-8")
        with build_lock(index):  # "another process" is building this index
            first = live.request_build()
            for _ in range(600):  # the child process is started, and waits for the lock
                if live.builder._proc is not None:
                    break
                time.sleep(0.05)
            later = [live.request_build() for _ in range(3)]
            time.sleep(1.0)
            assert not first.done() and live.building
            question = bot.ask("What collapsed in Port Vell during the storm?")
            assert all(c.article.id != "harbour-crane-collapses-in-port-vell"
                       for c in question.citations)  # the loaded index answers meanwhile
        result = first.result(timeout=240)
        assert result.built and any("another build of this index is running" in line
                                    for line in result.log)
        followups = {id(f.result(timeout=240)) for f in later}
        assert len(followups) == 1  # three requests, one follow-up build ...
        assert not later[0].result().built  # ... which found the index current
        assert live.builder.builds == 2
        assert bot.store.manifest["generation"] != generation  # switched without a reload call
        answer = bot.ask("What collapsed in Port Vell during the storm?")
        assert answer.citations[0].article.title == "Harbour crane collapses in Port Vell"
        assert_exact_quotes(answer.citations, corpus)
    finally:
        live.close()


def test_follow_once_adds_new_feed_entries_and_pages_once(tmp_path):
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    env = {"CITEBOT_CORPUS": str(corpus), "CITEBOT_INDEX": str(index)}
    with LocalSite() as site:
        feed = site.feed("/feed.atom", ["otter-count", "tram-depot"])
        missing = site.url("/gone.xml")
        r = run_cli("follow", "--once", feed, missing, env=env)
        out, err = r.stdout.decode(), r.stderr.decode()
        assert r.returncode == 0, err
        assert "2 added, 0 already in the corpus, 0 seen before" in out
        assert "indexed 2 articles" in out
        assert "/gone.xml: the server answered 404" in err and "read again next round" in err
        site.feed("/feed.atom", ["otter-count", "tram-depot", "bell-foundry"])  # a new entry
        r = run_cli("follow", "--once", "--json", feed, env=env)
        report = json.loads(r.stdout)
        assert r.returncode == 0 and report["index"]["articles"] == 3
        [result] = report["results"]
        assert [a["title"] for a in result["added"]] == [ENTRIES["bell-foundry"][0]]
        assert result["seen"] == 2
        r = run_cli("ask", "--json", "How heavy was the last bell cast in Marlow Cross?",
                    env=env)
        answer = json.loads(r.stdout)
        assert "rebuilding" not in r.stderr.decode()  # follow --once built the index
        assert "1,240 kilograms" in answer["citations"][0]["quote"]
        assert_exact_quotes(answer["citations"], corpus)
        # A removed entry is not added again; a URL that fails alone is exit code 2.
        bell = result["added"][0]["id"]
        assert run_cli("remove", bell, env=env).returncode == 0
        r = run_cli("follow", "--once", feed, env=env)
        assert r.returncode == 0 and "0 added, 0 already in the corpus, 3 seen before" in \
            r.stdout.decode()
        assert not (corpus / f"{bell}.md").exists()
        r = run_cli("follow", "--once", missing, env=env)
        assert r.returncode == 2 and "Traceback" not in r.stderr.decode()
    r = run_cli("follow", "--every", "5s", feed, env=env)
    assert r.returncode == 2 and "at least 10 seconds" in r.stderr.decode()
    r = run_cli("follow", "file:///etc/passwd", env=env)
    assert r.returncode == 2 and "not an http(s) URL" in r.stderr.decode()


def test_the_prompt_answers_while_a_changed_corpus_is_rebuilt(seed_bot, seed_dir, embedder,
                                                              tmp_path, monkeypatch, capsys):
    from bot.cli.prompt import interactive

    corpus, index, _env = _copy(seed_bot, seed_dir, tmp_path)
    (corpus / "crane.md").write_text(CRANE, encoding="utf-8")  # the index is now stale
    bot = _citebot(corpus, index, embedder)
    question = "What collapsed in Port Vell during the storm?"
    times = []

    def typed(_prompt=""):
        times.append(time.monotonic())
        if len(times) == 2:  # the first answer was printed: wait for the background build
            generation = bot.store.manifest["generation"]
            deadline = time.monotonic() + 300
            while bot.store.manifest["generation"] == generation:
                assert time.monotonic() < deadline, "the rebuilt index was never loaded"
                time.sleep(0.1)
        return [question, question, ""][len(times) - 1]

    monkeypatch.setattr("builtins.input", typed)
    interactive(bot, check_every_s=0)
    out = capsys.readouterr()
    assert times[1] - times[0] < 2.0  # answered from the loaded index, not after a build
    # Only the second answer, from the rebuilt index, can quote the new article.
    assert out.out.count("A harbour crane in the town of Port Vell") == 1
    assert "rebuilding the index in the background" in out.err
    assert "reloaded the index: 3 articles" in out.err
    answer = bot.ask(question)
    assert answer.citations[0].quote.startswith("A harbour crane in the town of Port Vell")
    assert_exact_quotes(answer.citations, corpus)
