"""Tier 2: the chat page in a real headless browser (Chromium driven by Selenium)
against a real server (uvicorn on a free port). Skips where Selenium or Chromium
is not installed: `pip install selenium` and `apt install chromium
chromium-driver`. With CHATBOT_SCREENSHOT=FILE it keeps a screenshot there
(docs/serve-page.png was made so)."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time

import pytest

pytestmark = pytest.mark.tf
pytest.importorskip("tensorflow")
webdriver = pytest.importorskip("selenium.webdriver")
if not (shutil.which("chromium") and shutil.which("chromedriver")):
    pytest.skip("Chromium and chromedriver are not installed", allow_module_level=True)

import uvicorn  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as seen  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from chatbot import Chatbot  # noqa: E402
from chatbot.model_folder import STARTER  # noqa: E402
from chatbot.server.app import create_app  # noqa: E402
from chatbot.server.conversations import Conversations  # noqa: E402
from chatbot.store import Store  # noqa: E402


@pytest.fixture
def url(db_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    bot = Chatbot.load(STARTER)
    app = create_app(lambda: Conversations(bot, Store(db_path), "starter"))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/"
    server.should_exit = True
    thread.join(10)
    app.state.worker.close()


@pytest.fixture
def browser():
    options = webdriver.ChromeOptions()
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=900,700"):
        options.add_argument(flag)
    options.binary_location = shutil.which("chromium")
    service = webdriver.ChromeService(executable_path=shutil.which("chromedriver"))
    driver = webdriver.Chrome(options=options, service=service)
    yield driver
    driver.quit()


def test_typing_a_message_shows_the_reply_and_reset_starts_over(url, browser, db_path):
    browser.get(url)
    wait = WebDriverWait(browser, 30)
    assert browser.find_element(By.ID, "model").text == "starter"
    wait.until(lambda b: len(b.find_element(By.ID, "cid").text) == 22)
    first = browser.find_element(By.ID, "cid").text
    for line in ("hi, my name is Zorblax", "what is my name?"):
        count = len(browser.find_elements(By.CSS_SELECTOR, "#log .bot"))
        box = browser.find_element(By.ID, "text")
        box.send_keys(line)
        box.submit()
        wait.until(lambda b, n=count: len(b.find_elements(By.CSS_SELECTOR, "#log .bot")) > n)
    replies = [p.text for p in browser.find_elements(By.CSS_SELECTOR, "#log .bot")]
    assert len(replies) == 2 and all(r.strip() for r in replies)
    if os.environ.get("CHATBOT_SCREENSHOT"):
        browser.save_screenshot(os.environ["CHATBOT_SCREENSHOT"])
    with Store(db_path) as store:
        _, turns = store.transcript(store.transcript_by_key(first))
    assert [t.text for t in turns][1::2] == replies  # what the page shows is what was stored
    browser.find_element(By.ID, "reset").click()
    wait.until(seen.text_to_be_present_in_element((By.ID, "log"), "new conversation"))
    assert browser.find_element(By.ID, "cid").text not in ("", first)
    assert not browser.find_elements(By.CSS_SELECTOR, "#log .bot")
