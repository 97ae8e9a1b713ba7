"""The exported static site in a real headless Chromium opened from file://: search works, links lead to a
failure mode and back, the graph draws, nothing logs a console error, and hostile corpus text runs nothing."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from test_site import build_kb

from kb.export import export_site
from kb.export.site import node_path

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Chromium is not installed (/usr/bin/chromium)")


@pytest.fixture(scope="module")
def exported(tmp_path_factory, built_data_dir):
    kb = build_kb(tmp_path_factory.mktemp("browser-kb"), built_data_dir, hostile=True)
    out = tmp_path_factory.mktemp("browser-site") / "site"
    export_site(kb, out)
    return kb, out


@pytest.fixture(scope="module")
def driver(tmp_path_factory):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--no-first-run", "--disable-sync", "--window-size=1280,1000"):
        options.add_argument(arg)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    d = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    d.set_page_load_timeout(30)
    yield d
    d.quit()


def console_errors(driver) -> list[dict]:
    return [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]


def assert_no_alert(driver) -> None:
    from selenium.common.exceptions import NoAlertPresentException

    with pytest.raises(NoAlertPresentException):
        driver.switch_to.alert.text  # noqa: B018 - touching the alert is the check


def wait_for(predicate, timeout: float = 10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def test_search_then_failure_mode_and_back_without_console_errors(exported, driver):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    kb, site = exported
    driver.get((site / "index.html").as_uri())
    driver.get_log("browser")
    assert driver.find_element(By.CSS_SELECTOR, "table.scorecard")
    assert len(driver.find_elements(By.CSS_SELECTOR, "table.scorecard tbody tr")) == len(kb.nodes("failure_mode"))

    box = driver.find_element(By.CSS_SELECTOR, "header form.search input[name=q]")
    box.send_keys("zero reward foothold", Keys.ENTER)
    wait_for(lambda: driver.current_url.split("?")[0].endswith("search.html"))
    hits = wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "#results a.hit"))
    target = node_path(kb.G, "fm:no-foothold")
    top = [h for h in hits[:3] if h.get_attribute("href").endswith(target)]
    assert top, [h.text for h in hits[:5]]

    top[0].click()
    wait_for(lambda: driver.current_url.endswith(target))
    label = kb.node("fm:no-foothold")["label"]
    assert driver.find_element(By.TAG_NAME, "h1").text == label
    statements = driver.find_elements(By.CSS_SELECTOR, "li.statement blockquote")
    assert len(statements) == len(kb.failure_mode_card("fm:no-foothold").statements)
    ARTIFACTS.mkdir(exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / "site-failure-mode.png"))

    driver.back()
    wait_for(lambda: driver.current_url.split("?")[0].endswith("search.html"))
    driver.find_element(By.LINK_TEXT, "Failure modes").click()
    wait_for(lambda: driver.current_url.endswith("index.html"))
    assert console_errors(driver) == []
    assert_no_alert(driver)


def test_graph_view_draws_from_file_url(exported, driver):
    from selenium.webdriver.common.by import By

    kb, site = exported
    driver.get((site / "graph.html").as_uri())
    wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "#graph canvas"))
    count = driver.execute_script("return window.kbNetwork ? window.kbNetwork.body.data.nodes.length : -1")
    assert count == sum(len(kb.nodes(k)) for k in ("failure_mode", "mitigation", "paper", "source", "reproduction"))
    time.sleep(1.0)
    driver.save_screenshot(str(ARTIFACTS / "site-graph.png"))
    assert console_errors(driver) == []


def test_hostile_document_runs_nothing(exported, driver):
    from selenium.webdriver.common.by import By

    kb, site = exported
    src = next(n for n, d in kb.G.nodes(data=True) if d["kind"] == "source" and "Evil" in d["label"])
    pages = [site / node_path(kb.G, src), site / "sources.html"]
    pages += [site / node_path(kb.G, e["v"]) for e in kb.edges(src, kind="states", direction="out")]
    driver.get((site / "search.html").as_uri() + "?q=evil%20script%20alert")
    pages_checked = 0
    for page in [None, *pages]:
        if page is not None:
            driver.get(page.as_uri())
        time.sleep(0.2)
        assert_no_alert(driver)
        assert driver.find_elements(By.CSS_SELECTOR, "img[src='x'], main script, [onerror], [onclick]") == []
        assert driver.find_elements(By.CSS_SELECTOR, "a[href^='javascript']") == []
        assert driver.execute_script("return document.querySelectorAll('script:not([src])').length") == 0
        pages_checked += 1
    driver.get(pages[0].as_uri())
    assert "<script>alert(1)</script>" in driver.find_element(By.TAG_NAME, "main").text
    assert console_errors(driver) == []
    assert pages_checked >= 4
