"""What a person sees: `streamlit run app.py` driven by headless Debian Chromium through Selenium."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from kb.api import KnowledgeBase
from kb.app.startup import HOME_FIRST, key_for

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "tests" / "artifacts"

pytestmark = pytest.mark.skipif(not CHROMIUM.exists() or not CHROMEDRIVER.exists(),
                                reason="Debian chromium/chromium-driver not installed: apt-get install -y chromium chromium-driver")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(port: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    """Block until the Streamlit server answers its health check (or fail with its log)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError("streamlit did not become healthy")


def chrome(user_data_dir: Path):
    """A headless Chromium WebDriver with a fresh profile."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync", "--window-size=1400,1100",
                 f"--user-data-dir={user_data_dir}"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)


@pytest.fixture(scope="module")
def data_dir(built_data_dir, tmp_path_factory) -> Path:
    from conftest import copy_data_dir

    return copy_data_dir(tmp_path_factory.mktemp("kb-browser") / "data", with_build=built_data_dir)


@pytest.fixture(scope="module")
def server(data_dir, tmp_path_factory):
    port = free_port()
    log = open(tmp_path_factory.mktemp("log") / "streamlit.log", "w")
    env = {**os.environ, "KB_DATA_DIR": str(data_dir)}
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(REPO / "app.py"), "--server.headless", "true",
                             "--server.port", str(port), "--browser.gatherUsageStats", "false"],
                            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_healthy(port, proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture
def browser(tmp_path):
    driver = chrome(tmp_path / "profile")
    try:
        yield driver
    finally:
        driver.quit()


def wait_idle(driver, timeout: float = 60) -> None:
    """Wait until the app has finished its current script run."""
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, timeout, poll_frequency=0.05).until(
        lambda d: d.find_elements("css selector", '[data-testid="stApp"][data-test-script-state="notRunning"]'))


def wait_text(driver, text: str, timeout: float = 60) -> None:
    """Wait until `text` is visible in the page body."""
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, timeout, poll_frequency=0.05).until(lambda d: text in d.find_element("tag name", "body").text)


def wait_css(driver, selector: str, timeout: float = 30):
    """Wait for and return the first element matching a CSS selector."""
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.05).until(lambda d: d.find_element("css selector", selector))


def test_search_from_the_home_page_and_open_the_failure_mode(server, browser, data_dir):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    kb = KnowledgeBase.load(data_dir)
    card = kb.failure_mode_card("fm:no-foothold")
    first = card.statements[0]
    browser.get(server)
    wait_text(browser, "How RL on language models fails")
    for shown_card in kb.concept_cards("failure_mode", summary=True)[:HOME_FIRST]:
        wait_text(browser, shown_card.node.label, timeout=10)

    box = wait_css(browser, "input[aria-label='Symptom or question']")  # on the home page itself
    box.send_keys("all rollouts get zero reward", Keys.ENTER)
    wait_text(browser, "10 hits")
    wait_idle(browser)
    assert "How RL on language models fails" in browser.find_element(By.TAG_NAME, "h1").text
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "app_home_search.png"))
    wait_css(browser, f".st-key-{key_for('hit', 'fm:no-foothold')} button").click()

    wait_text(browser, first.quote)
    wait_idle(browser)
    assert browser.find_element(By.TAG_NAME, "h1").text == card.node.label
    assert "node=fm%3Ano-foothold" in browser.current_url or "node=fm:no-foothold" in browser.current_url
    body = browser.find_element(By.TAG_NAME, "body").text
    assert card.node.description in body
    browser.save_screenshot(str(ARTIFACTS / "app_failure_mode.png"))

    browser.find_element(By.CSS_SELECTOR, f".st-key-{key_for('st', first.id, 'passage')} button").click()
    mark = wait_css(browser, "#kb-selected")
    wait_idle(browser)
    assert mark.text == first.quote
    browser.save_screenshot(str(ARTIFACTS / "app_source_passage.png"))


def test_a_node_link_opens_its_page_directly(server, browser, data_dir):
    from selenium.webdriver.common.by import By

    kb = KnowledgeBase.load(data_dir)
    paper = kb.node_view("E026")
    browser.get(f"{server}/?node={paper.id}")
    wait_text(browser, paper.label)
    wait_idle(browser)
    assert browser.find_element(By.TAG_NAME, "h1").text == paper.label
