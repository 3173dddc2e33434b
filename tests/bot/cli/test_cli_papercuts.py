"""A new user's papercuts (issue 14, defect 14): piped questions headed by their question, line
editing and history at the prompt, "no such model", `remove` asking on a terminal, and error
lines prefixed once. Terminal behaviour runs the real CLI on a pseudo-terminal."""

from __future__ import annotations

import json
import os
import pty
import select
import shutil
import subprocess
import sys
import time

from conftest import ROOT, SEED_CORPUS, assert_exact_quotes, run_cli

NICHOLS = "Who is Brian A. Nichols?"
VETO = "Which countries threatened a veto?"


def run_on_terminal(args, keys: list[bytes], env: dict, timeout: float = 120.0):
    """Run `python -m bot ARGS` with stdin/stdout/stderr on a pseudo-terminal, typing each of
    ``keys`` once the program waits for input; returns (exit code, everything it printed)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "bot", *args], stdin=slave, stdout=slave,
                            stderr=slave, cwd=ROOT, env={**os.environ, **env},
                            close_fds=True)
    os.close(slave)
    out, pending, deadline = b"", list(keys), time.monotonic() + timeout
    last = time.monotonic()
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # the program exited and closed the terminal
                    break
                if not chunk:
                    break
                out += chunk
                last = time.monotonic()
            elif proc.poll() is not None:
                break
            elif pending and time.monotonic() - last > 1.0:  # quiet for a second: waiting
                os.write(master, pending.pop(0))
                last = time.monotonic()
        code = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    return code, out.decode("utf-8", "replace")


# -- piped questions in plain text --------------------------------------------------------------
def test_piped_questions_print_each_question_and_a_separator(cli_env):
    data = f"{NICHOLS}\n\xff\n\nWho won the 2022 World Cup?\n{VETO}\n".encode("latin-1")
    r = run_cli("ask", input=data, env=cli_env)
    assert r.returncode == 2  # line 2 refused, the rest answered
    out, err = r.stdout.decode(), r.stderr.decode()
    heads = [ln for ln in out.splitlines() if ln.startswith("── line ")]
    assert [h.split()[2] for h in heads] == ["1", "2", "4", "5"]  # blank line 3 skipped
    blocks = out.split("── line ")[1:]
    assert f"Q: {NICHOLS}" in blocks[0] and "Blinken and Brian A. Nichols" in \
        " ".join(blocks[0].split())
    assert "(not answered: not valid UTF-8 text)" in blocks[1]
    assert "Q: Who won the 2022 World Cup?" in blocks[2] and "Not found" in blocks[2]
    assert f"Q: {VETO}" in blocks[3] and "veto" in blocks[3].split("Q:", 1)[1]
    assert err.strip().splitlines() == ["citebot: error: line 2: not valid UTF-8 text"]


def test_piped_question_with_escape_codes_is_echoed_harmlessly(cli_env):
    r = run_cli("ask", input=b"Who is \x1b]0;owned\x07Brian A. Nichols?\n", env=cli_env)
    out = r.stdout.decode()
    assert r.returncode == 0 and "\x1b" not in out.splitlines()[1]
    assert out.splitlines()[1].startswith("Q: Who is ")


def test_error_lines_carry_their_line_number_once(cli_env):
    data = b"\xc3\x28\n   \n" + VETO.encode() + b"\n"
    for args in (["cite"], ["ask"]):
        r = run_cli(*args, input=data, env=cli_env)
        err = r.stderr.decode()
        assert r.returncode == 2 and "line 1: not valid UTF-8 text" in err, err
        assert "line 1: line 1" not in err
    r = run_cli("ask", "--json", input=data, env=cli_env)
    rows = [json.loads(x) for x in r.stdout.decode().splitlines()]
    assert rows[0] == {"question": None, "line": 1, "error": "line 1: not valid UTF-8 text"}
    r = run_cli("cite", "--json", input=b"\xc3\x28\n", env=cli_env)
    assert json.loads(r.stdout)["error"] == "line 1: not valid UTF-8 text"


# -- no such model ----------------------------------------------------------------------------
def test_a_model_that_is_not_here_is_one_line_exit_2(cli_env, tmp_path):
    env = {**cli_env, "CITEBOT_INDEX": str(tmp_path / "index"), "HF_HUB_OFFLINE": "1"}
    for args in (["ask", "--model", "nonexistent-model", VETO],
                 ["index", "build", "--model", "nonexistent-model"],
                 ["ask", "--model", str(tmp_path / "no-folder"), VETO]):
        start = time.monotonic()
        r = run_cli(*args, env=env)
        err = r.stderr.decode()
        assert r.returncode == 2 and err.startswith("citebot: error: no such model: "), err
        assert len(err.strip().splitlines()) == 1 and "index build" not in err
        assert time.monotonic() - start < 30  # no hub, no build
    assert not (tmp_path / "index").exists()  # nothing was built or changed


# -- remove asks on a terminal --------------------------------------------------------------------
def _corpus_copy(tmp_path):
    corpus = tmp_path / "corpus"
    shutil.copytree(SEED_CORPUS, corpus, ignore=shutil.ignore_patterns(".*"))
    return corpus, {"CITEBOT_CORPUS": str(corpus), "CITEBOT_INDEX": str(tmp_path / "index")}


def test_remove_on_a_terminal_asks_first(tmp_path):
    corpus, env = _corpus_copy(tmp_path)
    code, out = run_on_terminal(["remove", "mss-renewal"], [b"\n"], env)  # Enter: no
    assert code == 0 and "Delete them? [y/N]" in out and "nothing removed" in out
    assert "UN Security Council renews" in out  # says what would be deleted
    assert (corpus / "mss-renewal.md").exists()
    code, out = run_on_terminal(["remove", "mss-renewal"], [b"n\n"], env)
    assert (corpus / "mss-renewal.md").exists()
    code, out = run_on_terminal(["remove", "mss-renewal"], [b"y\n"], env)
    assert code == 0 and "removed mss-renewal" in out
    assert not (corpus / "mss-renewal.md").exists()
    code, out = run_on_terminal(["remove", "--yes", "mss-deployment"], [], env)
    assert code == 0 and "Delete them?" not in out and "removed mss-deployment" in out


def test_remove_unknown_id_fails_before_asking_and_scripts_need_no_answer(tmp_path):
    corpus, env = _corpus_copy(tmp_path)
    code, out = run_on_terminal(["remove", "mss-renewl"], [], env)
    assert code == 2 and "did you mean 'mss-renewal'" in out and "Delete them?" not in out
    # stdin not a terminal (a script): there is nobody to ask, so it proceeds, as documented.
    r = run_cli("remove", "mss-renewal", input=b"", env=env)
    assert r.returncode == 0 and "removed mss-renewal" in r.stdout.decode()
    assert not (corpus / "mss-renewal.md").exists()


# -- the interactive prompt -------------------------------------------------------------------
def test_prompt_has_history_and_line_editing(cli_env, tmp_path):
    env = {**cli_env, "XDG_STATE_HOME": str(tmp_path / "state"), "COLUMNS": "100"}
    # The up arrow brings the previous question back: it is answered a second time.
    code, out = run_on_terminal(["ask"], [f"{VETO}\r".encode(), b"\x1b[A\r", b"\r"], env)
    assert code == 0, out
    assert "^[[A" not in out
    assert out.count("[mss-renewal:p4]") == 2, out
    history = (tmp_path / "state" / "citebot" / "history").read_text()
    assert VETO in history
    # The next session starts with that history.
    code, out = run_on_terminal(["ask"], [b"\x1b[A\r", b"\r"], env)
    assert code == 0 and "[mss-renewal:p4]" in out


def test_prompt_works_when_the_history_cannot_be_written(cli_env, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the state folder should be")
    env = {**cli_env, "XDG_STATE_HOME": str(blocker)}
    code, out = run_on_terminal(["ask"], [f"{NICHOLS}\r".encode(), b"\r"], env)
    assert code == 0 and "Brian A. Nichols" in out and "Traceback" not in out


def test_piped_text_answers_keep_exact_quotes(cli_env, seed_dir):
    """The headed text form changes nothing in the answers: JSON of the same lines is exact."""
    r = run_cli("ask", "--json", input=f"{NICHOLS}\n{VETO}\n".encode(), env=cli_env)
    rows = [json.loads(x) for x in r.stdout.decode().splitlines()]
    assert len(rows) == 2 and all(row["answered"] for row in rows)
    for row in rows:
        assert_exact_quotes(row["citations"], seed_dir)
