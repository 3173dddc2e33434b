"""`citebot telegram` as a user runs it: a real process polling a fake Bot API server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile

from conftest import ROOT, run_cli
from fake_bot_api import FakeBotAPI


def test_citebot_telegram_runs_answers_and_stops_on_sigterm(cli_env):
    """One model load in a child process: the whole command, at DEBUG, token nowhere in it."""
    with FakeBotAPI() as api, tempfile.TemporaryFile() as err:
        env = {**os.environ, **cli_env, "TELEGRAM_BOT_TOKEN": api.token,
               "TELEGRAM_API_BASE_URL": api.base_url}
        env.pop("CITEBOT_DEBUG", None)
        proc = subprocess.Popen([sys.executable, "-m", "bot", "telegram", "--log-level",
                                 "DEBUG"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                stderr=err)
        try:
            api.message(91, "When did the first Kenyan contingent arrive?")
            [answer] = api.wait_for_sync(chat_id=91, timeout=150)
        finally:
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(timeout=60)
        err.seek(0)
        log = err.read().decode("utf-8", "replace")
    assert code == 0, log[-3000:]
    assert "200 specialized Kenyan police officers" in answer.text
    assert "citebot is running as @citebot_test_bot: 2 articles" in log
    assert "Calling Bot API endpoint `sendMessage`" in log  # DEBUG logging was on
    assert api.token not in log and api.token.split(":")[1] not in log
    assert "Traceback" not in log
    # On SIGTERM the bot confirmed what it had fetched: a last getUpdates without waiting.
    assert any(c.params.get("timeout") == 0 for c in api.calls_to("getUpdates"))


def test_missing_or_rejected_token_is_one_line_and_exit_2():
    r = run_cli("telegram", env={"TELEGRAM_BOT_TOKEN": ""}, process=True)
    assert r.returncode == 2
    assert r.stderr.decode().strip() == ("citebot: error: TELEGRAM_BOT_TOKEN is not set (create "
                                         "a bot with @BotFather and export its token)")
    with FakeBotAPI() as api:
        wrong = "123:wrong-token-of-someone-else-entirely"
        r = run_cli("telegram", env={"TELEGRAM_BOT_TOKEN": wrong,
                                     "TELEGRAM_API_BASE_URL": api.base_url}, process=True)
    err = r.stderr.decode()
    assert r.returncode == 2
    assert err.strip() == ("citebot: error: Telegram rejected the token in TELEGRAM_BOT_TOKEN "
                           "(copy it again from @BotFather)")
    assert api.calls and not api.calls[0].token_ok


def test_webhook_options_are_checked():
    env = {"TELEGRAM_BOT_TOKEN": "1:x"}
    r = run_cli("telegram", "--webhook-secret", "abc", env=env, process=True)
    assert r.returncode == 2 and "--webhook-secret needs --webhook-url" in r.stderr.decode()
    r = run_cli("telegram", "--webhook-url", "https://example.org/hook", "--webhook-secret",
                "not allowed!", env=env, process=True)
    assert r.returncode == 2 and "1-256 characters" in r.stderr.decode()
    r = run_cli("telegram", "--webhook-url", "example.org/hook", env=env, process=True)
    assert r.returncode == 2 and "must be an http(s) URL" in r.stderr.decode()
