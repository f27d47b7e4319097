"""Take the dashboard screenshots in docs/ (desktop and a 390 px phone width).

    .venv/bin/python docs/dashboard_screenshots.py   # writes docs/dashboard-*.png

Seeds a throw-away SQLite database with `seed_demo` (organization demo, 180 days, seed 1),
starts the development server on a free port and drives Debian's Chromium
(/usr/bin/chromium) with Playwright, like the browser tests.
"""

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
PASSWORD = "screenshots-only-1"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def manage(*args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=REPO, check=True)


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="periscope-dashboard-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    os.environ.update(
        DEBUG="1",
        DATABASE_URL=f"sqlite:///{work / 'db.sqlite3'}",
        STATIC_ROOT=str(work / "static"),
    )
    manage("migrate", "--verbosity", "0")
    manage("seed_demo", "--org", "demo", "--days", "180", "--seed", "1")
    os.environ["DJANGO_SUPERUSER_PASSWORD"] = PASSWORD
    manage("createsuperuser", "--noinput", "--username", "admin", "--email", "a@example.com")
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{base}/healthz")
                break
            except OSError:
                time.sleep(0.2)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
            )
            for name, width, sidebar in (("desktop", 1440, "false"), ("narrow", 390, "false")):
                page = browser.new_page(viewport={"width": width, "height": 900})
                page.goto(f"{base}/admin/login/?next=/admin/")
                page.fill("#id_username", "admin")
                page.fill("#id_password", PASSWORD)
                page.click("#login-form input[type=submit]")
                page.wait_for_url("**/admin/")
                # More room for the page: fold the admin's navigation sidebar.
                page.evaluate(f"localStorage.setItem('django.admin.navSidebarIsOpen', '{sidebar}')")
                page.goto(f"{base}/admin/metrics/dora/?org=demo&range=90")
                page.screenshot(path=str(DOCS / f"dashboard-{name}.png"), full_page=True)
                page.close()
            browser.close()
    finally:
        server.terminate()
        server.wait()
    print("written docs/dashboard-desktop.png, docs/dashboard-narrow.png")


if __name__ == "__main__":
    main()
