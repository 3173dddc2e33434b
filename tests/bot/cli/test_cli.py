"""End to end: the `citebot` command as a user runs it (argument, stdin, --json, errors)."""

import json
import shutil

from conftest import SEED_CORPUS, assert_exact_quotes, run_cli


def test_ask_argument_text(cli_env):
    r = run_cli("ask", "How many Kenyan police officers arrived in the first contingent?",
                env=cli_env, process=True)
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode()
    assert "approximately 200 specialized Kenyan police" in " ".join(out.split())
    assert "[mss-deployment:p6]" in out and "paragraph 6" in out


def test_ask_json_shape_and_offsets(cli_env, seed_dir):
    r = run_cli("ask", "--json", "-k", "2", "Which countries threatened a veto?", env=cli_env)
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert set(data) >= {"question", "answered", "citations"}
    assert data["answered"] is True and 1 <= len(data["citations"]) <= 2
    c = data["citations"][0]
    assert set(c) >= {"id", "article", "quote", "start", "end", "score"}
    assert set(c["article"]) == {"id", "title", "source", "published", "url"}
    assert_exact_quotes(data["citations"], seed_dir)


def test_ask_stdin_json_lines(cli_env, seed_dir):
    questions = ("When did the Kenyan court rule the deployment unconstitutional?\n\n"
                 "Who won the 2022 World Cup?\nWho is Brian A. Nichols?\n")
    r = run_cli("ask", "--json", input=questions.encode(), env=cli_env, process=True)
    assert r.returncode == 0, r.stderr
    lines = [json.loads(x) for x in r.stdout.decode().splitlines()]
    assert [x["answered"] for x in lines] == [True, False, True]
    assert lines[1]["citations"] == []
    for x in lines:
        assert_exact_quotes(x["citations"], seed_dir)


def test_stdin_with_a_bad_line_answers_the_rest_and_exits_2(cli_env):
    r = run_cli("ask", input=b"\xff\xfe\nWho is Antony Blinken?\n", env=cli_env, process=True)
    assert r.returncode == 2
    assert "not valid UTF-8" in r.stderr.decode()
    assert "Blinken" in r.stdout.decode()
    assert "Traceback" not in r.stderr.decode()


def test_source_and_unknown_citation(cli_env):
    r = run_cli("source", "mss-renewal:p4", env=cli_env)
    assert r.returncode == 0
    assert "threats of a veto from China and Russia" in r.stdout.decode()
    assert "[mss-renewal:p3]" in r.stdout.decode()
    r = run_cli("source", "--json", "mss-deployment:p6", env=cli_env)
    view = json.loads(r.stdout)
    assert view["id"] == "mss-deployment:p6" and "200 specialized" in view["text"]
    r = run_cli("source", "mss-renewal:p99", env=cli_env)
    assert r.returncode == 2 and "no such citation" in r.stderr.decode()
    assert "Traceback" not in r.stderr.decode()


def test_bad_input_exit_code_2(cli_env, tmp_path):
    r = run_cli("ask", "   ", env=cli_env, process=True)
    assert r.returncode == 2 and "empty" in r.stderr.decode()
    r = run_cli("ask", "--corpus", str(tmp_path / "missing"), "--index", str(tmp_path / "i"),
                "hello?")
    assert r.returncode == 2 and "corpus folder not found" in r.stderr.decode()
    assert len(r.stderr.decode().strip().splitlines()) == 1
    r = run_cli("ask", "--index", str(tmp_path / "none"), "hello?",
                env={**cli_env, "CITEBOT_AUTO_BUILD": "0"})
    assert r.returncode == 2 and "citebot index build" in r.stderr.decode()


def test_changed_corpus_is_noticed_and_rebuilt(tmp_path):
    corpus = tmp_path / "corpus"
    shutil.copytree(SEED_CORPUS, corpus, ignore=shutil.ignore_patterns(".*"))
    env = {"CITEBOT_CORPUS": str(corpus), "CITEBOT_INDEX": str(tmp_path / "index")}
    r = run_cli("index", "build", env=env)
    assert r.returncode == 0, r.stderr
    (corpus / "extra.md").write_text(
        "---\ntitle: Lighthouse keeping\n---\nThe lighthouse keeper of Ouessant lit the lamp "
        "with whale oil until 1902.\n", encoding="utf-8")
    r = run_cli("index", "info", env=env)
    assert "citebot index build" in r.stdout.decode()
    r = run_cli("ask", "--json", "What fuel did the lighthouse keeper of Ouessant use?", env=env)
    assert r.returncode == 0, r.stderr
    assert "corpus changed" in r.stderr.decode()
    assert "whale oil" in json.loads(r.stdout)["citations"][0]["quote"]
    r = run_cli("ask", "What fuel did the lighthouse keeper use?",
                env={**env, "CITEBOT_AUTO_BUILD": "0"})
    assert r.returncode == 0
    (corpus / "extra.md").unlink()
    r = run_cli("ask", "hello?", env={**env, "CITEBOT_AUTO_BUILD": "0"})
    assert r.returncode == 2 and "changed" in r.stderr.decode()
