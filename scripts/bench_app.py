"""Benchmark the Streamlit explorer: cold start to the first full home-page render in headless Chromium, and
how long a failure-mode page takes to render (AppTest script run after warm-up, and in the browser).

    .venv/bin/python scripts/bench_app.py [--data-dir data] [--node fm:no-foothold] [--repeats 10]

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


def bench_browser(data_dir: Path, node: str, last_fm_label: str, node_label: str, first_quote: str) -> dict[str, float]:
    port = free_port()
    env = {**os.environ, "KB_DATA_DIR": str(data_dir)}
    with tempfile.TemporaryDirectory() as profile:
        driver = chrome(profile)  # started first: the browser's own start-up is not the app's
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(APP), "--server.headless", "true",
                                 "--server.port", str(port), "--browser.gatherUsageStats", "false"],
                                cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_until(lambda: healthy(port), poll=0.02)
            t_ready = time.perf_counter()
            driver.get(f"http://127.0.0.1:{port}/")
            wait_until(lambda: rendered(driver, last_fm_label))
            t_home = time.perf_counter()
            wait_until(lambda: driver.find_elements("css selector", f".st-key-home-{node.replace(':', '-')} button"))[0].click()
            t_click = time.perf_counter()
            wait_until(lambda: rendered(driver, first_quote, title=node_label))
            t_page = time.perf_counter()
        finally:
            driver.quit()
            proc.terminate()
            proc.wait(timeout=10)
    return {"process start -> home rendered": t_home - t0, "server ready -> home rendered": t_home - t_ready,
            "click Open -> failure-mode page rendered (browser)": t_page - t_click}


def bench_apptest(data_dir: Path, node: str, repeats: int) -> dict[str, float]:
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
    parser.add_argument("--node", default="fm:no-foothold")
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    from kb.api import KnowledgeBase

    kb = KnowledgeBase.load(args.data_dir)
    fms = kb.nodes("failure_mode")
    results = bench_browser(Path(args.data_dir).resolve(), args.node, fms[-1]["label"], kb.node(args.node)["label"],
                            kb.failure_mode_card(args.node)["statements"][0]["quote"])
    results.update(bench_apptest(Path(args.data_dir).resolve(), args.node, args.repeats))
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    for name, seconds in results.items():
        print(f"{name:55s} {seconds * 1000:8.0f} ms")


if __name__ == "__main__":
    main()
