"""Benchmark the Streamlit explorer against an empty Streamlit app measured the same way, in one run.

    .venv/bin/python scripts/bench_app.py [--data-dir data] [--node FM_ID] [--rounds 5] [--repeats 10]

Each round starts, in headless Chromium, an empty app (one st.title, beside app.py) and the explorer, in
turns, and times process start -> first full render (the empty app's title; the explorer's home with every
failure mode and its search box). It prints both medians and their ratio (target: the explorer within 1.3x), then the time
from clicking a failure mode's Open button to its painted page, and an AppTest rerun of that page.
Needs a build (`kb build`) and Debian's chromium + chromium-driver.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
APP = REPO / "app.py"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def chrome(profile: str):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync", "--window-size=1400,1100",
                 f"--user-data-dir={profile}"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def wait_until(predicate, timeout: float = 60, poll: float = 0.01):
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(poll)
    raise TimeoutError("condition not met")


def healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=0.5) as r:
            return r.status == 200
    except OSError:
        return False


PAGE_STATE = """
const app = document.querySelector('[data-testid="stApp"]');
const h1 = document.querySelector('h1');
return [app ? app.getAttribute('data-test-script-state') : null, h1 ? h1.innerText : null, document.body.innerText];
"""


def rendered(driver, text: str, *, title: str | None = None) -> bool:
    """The script run has finished, `text` is on the page and (if given) the page title is `title`."""
    state, h1, body = driver.execute_script(PAGE_STATE)
    return state == "notRunning" and text in body and (title is None or h1 == title)


EMPTY_APP = 'import streamlit as st\n\nst.title("Empty app")\n'


def start_app(app: Path, port: int, env: dict[str, str]) -> subprocess.Popen:
    """`streamlit run app` headless on `port`, output discarded."""
    return subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(app), "--server.headless", "true",
                             "--server.port", str(port), "--browser.gatherUsageStats", "false"],
                            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def first_render(app: Path, env: dict[str, str], text: str, *, then=None) -> tuple[float, float | None]:
    """Seconds from process start to `text` rendered (browser started beforehand, not counted); `then(driver)`
    may time a follow-up step on the same page and return its seconds."""
    port = free_port()
    with tempfile.TemporaryDirectory() as profile:
        driver = chrome(profile)
        t0 = time.perf_counter()
        proc = start_app(app, port, env)
        try:
            wait_until(lambda: healthy(port), poll=0.02)
            driver.get(f"http://127.0.0.1:{port}/")
            wait_until(lambda: rendered(driver, text))
            seconds = time.perf_counter() - t0
            extra = then(driver) if then is not None else None
        finally:
            driver.quit()
            proc.terminate()
            proc.wait(timeout=10)
    return seconds, extra


def bench_browser(data_dir: Path, node: str, last_label: str, node_label: str, first_quote: str,
                  rounds: int) -> dict[str, float]:
    """Median first-render times of the empty app and the explorer (alternating), their ratio, and click -> page."""
    from kb.app.startup import key_for

    env = {**os.environ, "KB_DATA_DIR": str(data_dir)}
    empty, explorer, clicks = [], [], []

    def open_node(driver) -> float:
        wait_until(lambda: driver.find_elements("css selector", f".st-key-{key_for('home', node)} button"))[0].click()
        t = time.perf_counter()
        wait_until(lambda: rendered(driver, first_quote, title=node_label))
        return time.perf_counter() - t

    # The empty app sits beside app.py (same folder, config and working directory), and the two take turns
    # going first, so neither gets the other's start-up conditions.
    empty_app = APP.with_name(f".bench-empty-app-{os.getpid()}.py")
    empty_app.write_text(EMPTY_APP, encoding="utf-8")
    try:
        for i in range(rounds):
            for which in (("empty", "explorer") if i % 2 == 0 else ("explorer", "empty")):
                if which == "empty":
                    empty.append(first_render(empty_app, env, "Empty app")[0])
                else:
                    seconds, click = first_render(APP, env, last_label, then=open_node)
                    explorer.append(seconds)
                    clicks.append(click)
    finally:
        empty_app.unlink(missing_ok=True)
    e, x = statistics.median(empty), statistics.median(explorer)
    return {"empty app: process start -> first render (median)": e,
            "explorer: process start -> home rendered (median)": x,
            "ratio explorer / empty (target <= 1.3)": x / e,
            "click Open -> failure-mode page rendered (browser, median)": statistics.median(clicks)}


def bench_apptest(data_dir: Path, node: str, repeats: int) -> dict[str, float]:
    """Median and worst script run of the failure-mode page in AppTest, after a warm-up run."""
    os.environ["KB_DATA_DIR"] = str(data_dir)
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(APP), default_timeout=120)
    at.query_params["node"] = node
    at.run()  # warm-up: imports, KnowledgeBase load into st.cache_resource
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        at.run()
        times.append(time.perf_counter() - t)
    return {"failure-mode page script run (AppTest, median)": statistics.median(times),
            "failure-mode page script run (AppTest, max)": max(times)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=str(REPO / "data"))
    parser.add_argument("--node", default=None, help="failure mode to open (default: the first on the home page)")
    parser.add_argument("--rounds", type=int, default=5, help="browser rounds (empty app + explorer each)")
    parser.add_argument("--repeats", type=int, default=10, help="AppTest reruns of the node page")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    from kb.api import KnowledgeBase

    kb = KnowledgeBase.load(args.data_dir)
    from kb.app.startup import HOME_FIRST

    cards = kb.concept_cards("failure_mode", summary=True)[:HOME_FIRST]  # what the home page draws first
    card = kb.failure_mode_card(args.node or cards[0].node.id)
    results = bench_browser(Path(args.data_dir).resolve(), card.node.id, cards[-1].node.label, card.node.label,
                            card.statements[0].shown, args.rounds)
    results.update(bench_apptest(Path(args.data_dir).resolve(), card.node.id, args.repeats))
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    for name, value in results.items():
        shown = f"{value:8.2f} x" if name.startswith("ratio") else f"{value * 1000:8.0f} ms"
        print(f"{name:60s} {shown}")


if __name__ == "__main__":
    main()
