"""Take the admin screenshots in docs/ from the running app, in headless Chromium.

    .venv/bin/python docs/screenshots.py            # writes docs/admin-*.png

It installs Debian's `chromium` with apt-get if it is missing, seeds a throw-away SQLite
database (two organizations, a catalog, deployments sent over the real webhook, repeated
deliveries), starts the development server on a free port, logs in through the admin's
login form and saves full-size PNGs. Chromium is driven over its DevTools pipe
(`--remote-debugging-pipe`), so nothing beyond the standard library is needed.
"""

import base64
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
PASSWORD = "screenshots-only-1"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--remote-debugging-pipe",
]


def ensure_chromium() -> str:
    found = shutil.which("chromium")
    if found:
        return found
    subprocess.run(["apt-get", "update"], check=True)
    subprocess.run(["apt-get", "install", "-y", "chromium"], check=True)
    return shutil.which("chromium") or "/usr/bin/chromium"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- seeding -------------------------------------------------------------------------


def seed(base_url: str) -> dict:
    """A catalog worth looking at. Returns the ids the screenshots need."""
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from periscope.keys import issue_api_key
    from periscope.tenancy import ensure_organization
    from services.catalog import create_service

    call_command("migrate", verbosity=0)
    acme, _ = ensure_organization(slug="acme", name="Acme")
    globex, _ = ensure_organization(slug="globex", name="Globex")
    get_user_model().objects.create_superuser("admin", "admin@example.com", PASSWORD)
    checkout = create_service(
        organization=acme,
        name="Checkout",
        team="payments",
        repository_url="https://github.com/acme/checkout",
        description="Cart, payment and order confirmation.",
        aliases=["checkout-svc", "shop-checkout", "git@gitlab.acme.internal:shop/checkout.git"],
    )
    create_service(organization=acme, name="Search", team="discovery")
    keys = {
        org.slug: issue_api_key(organization=org, name="ci").plaintext for org in (acme, globex)
    }
    return {"checkout": checkout.pk, "keys": keys, "acme": acme.pk}


def send(base_url: str, key: str, deployment_id: str, n: int, **fields) -> None:
    body = {
        "deploymentId": deployment_id,
        "commitSha": f"{0xA1B2C3D4E5 + n:x}",
        "environment": "prod",
        "status": "success",
        "startedAt": f"2026-11-{10 + n % 10:02d}T10:{n % 60:02d}:00Z",
        "completedAt": f"2026-11-{10 + n % 10:02d}T10:{n % 60:02d}:40Z",
        **fields,
    }
    body = {k: v for k, v in body.items() if v is not None}
    request = urllib.request.Request(
        f"{base_url}/api/webhooks/deployments",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request) as response:
        assert response.status in (200, 201), response.status


def deliver_everything(base_url: str, ids: dict) -> None:
    acme, globex = ids["keys"]["acme"], ids["keys"]["globex"]
    n = 0
    for name, count in [
        ("billing-api", 7),
        ("git@github.com:acme/ledger.git", 4),
        ("Checkout", 3),
        ("checkout-svc", 2),
        ("web-frontend", 2),
        ("legacy-cron", 2),
        ("notifications", 1),
    ]:
        for _ in range(count):
            n += 1
            send(base_url, acme, f"run-{n}", n, service=name)
    for _ in range(3):
        n += 1
        send(base_url, globex, f"globex-{n}", n, service="payments")
    # One deployment reported four times: started, finished, repeated, and a late "started".
    started = {"status": "in_progress", "completedAt": None, "service": "checkout"}
    send(base_url, acme, "checkout-1042", 42, **started, pipelineName="Deploy checkout")
    send(
        base_url,
        acme,
        "checkout-1042",
        42,
        service="checkout",
        pipelineName="Deploy checkout",
        metadata={"version": "3.4.1", "canary": False},
    )
    send(
        base_url,
        acme,
        "checkout-1042",
        42,
        service="checkout",
        pipelineName="Deploy checkout",
        metadata={"version": "3.4.1", "canary": False},
    )
    send(base_url, acme, "checkout-1042", 42, **started, pipelineName="Deploy checkout")


def record_other_format(ids: dict) -> None:
    """Another format's deliveries reach the same recording function (here: Hivel's)."""
    import json as _json
    from datetime import UTC, datetime

    from deployments.recording.events import DeploymentEvent
    from deployments.recording.recorder import record_deployment
    from periscope.models import Organization

    acme = Organization.objects.get(slug="acme")
    for n in range(2):
        event = DeploymentEvent(
            source="hivel",
            external_id=f"hivel-{n}",
            environment="production",
            status="success",
            service_name="Billing-API",
            started_at=datetime(2026, 11, 20, 9, n, tzinfo=UTC),
            completed_at=datetime(2026, 11, 20, 9, n + 1, tzinfo=UTC),
        )
        record_deployment(
            organization=acme, event=event, body=_json.dumps({"service": "Billing-API"})
        )


def after_delivery(ids: dict) -> dict:
    from deployments.models import Deployment
    from services.catalog import create_service_from_suggestion, ignore_suggestion
    from services.models import ServiceSuggestion

    ignore_suggestion(suggestion=ServiceSuggestion.objects.get(key="legacy-cron"))
    create_service_from_suggestion(suggestion=ServiceSuggestion.objects.get(key="notifications"))
    ids["deployment"] = Deployment.objects.get(external_id="checkout-1042").pk
    ids["suggestion_to_attach"] = ServiceSuggestion.objects.get(key="web-frontend").pk
    return ids


# --- the browser ---------------------------------------------------------------------


class Browser:
    """Chromium over the DevTools pipe: fd 3 carries commands in, fd 4 answers out."""

    def __init__(self, chromium: str, profile: str):
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()

        def wire_fds():
            os.dup2(to_child_r, 3)
            os.dup2(from_child_w, 4)

        self.process = subprocess.Popen(
            [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "about:blank"],
            preexec_fn=wire_fds,
            close_fds=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_child_r)
        os.close(from_child_w)
        self._buffer = b""
        self._next_id = 0
        self.session = None
        self.events: list[dict] = []

    def _read_message(self) -> dict:
        while b"\0" not in self._buffer:
            chunk = os.read(self._from_child, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed the DevTools pipe")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(raw)

    def call(self, method: str, **params):
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params}
        if self.session and not method.startswith("Target."):
            message["sessionId"] = self.session
        os.write(self._to_child, json.dumps(message).encode() + b"\0")
        while True:
            answer = self._read_message()
            if answer.get("id") == self._next_id:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer.get("result", {})
            self.events.append(answer)

    def wait_for(self, event: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for i, message in enumerate(self.events):
                if message.get("method") == event:
                    del self.events[: i + 1]
                    return
            self.events.append(self._read_message())
        raise TimeoutError(event)

    def open_tab(self, width: int) -> None:
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)[
            "sessionId"
        ]
        self.call("Page.enable")
        self.width = width
        self.call(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=900,
            deviceScaleFactor=1,
            mobile=False,
        )

    def go(self, url: str) -> None:
        self.events.clear()
        self.call("Page.navigate", url=url)
        self.wait_for("Page.loadEventFired")
        time.sleep(0.5)  # let select2 and the admin's scripts settle

    def evaluate(self, expression: str):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result.get("result", {}).get("value")

    def submit(self, expression: str) -> None:
        self.events.clear()
        self.evaluate(expression)
        self.wait_for("Page.loadEventFired")

    def screenshot(self, path: Path, selector: str | None = None, max_height: int = 1800):
        height = int(self.evaluate("document.documentElement.scrollHeight"))
        self.call(
            "Emulation.setDeviceMetricsOverride",
            width=self.width,
            height=min(height, max_height),
            deviceScaleFactor=1,
            mobile=False,
        )
        clip = None
        if selector:
            box = self.evaluate(
                f"(() => {{ const r = document.querySelector({json.dumps(selector)})"
                ".getBoundingClientRect(); return [r.x, r.y + window.scrollY, r.width, r.height]; })()"
            )
            x, y, w, h = box
            clip = {
                "x": 0,
                "y": max(y - 10, 0),
                "width": self.width,
                "height": min(h + 20, max_height),
                "scale": 1,
            }
        params = {"format": "png", "captureBeyondViewport": True}
        if clip:
            params["clip"] = clip
        data = self.call("Page.captureScreenshot", **params)["data"]
        path.write_bytes(base64.b64decode(data))
        print(f"wrote {path.relative_to(REPO)}")

    def close(self) -> None:
        with contextlib.suppress(RuntimeError):
            self.call("Browser.close")
        self.process.wait(timeout=10)


# --- main ----------------------------------------------------------------------------


def main() -> None:
    chromium = ensure_chromium()
    work = Path(tempfile.mkdtemp(prefix="periscope-screens-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    os.environ.update(
        DEBUG="1",
        DATABASE_URL=f"sqlite:///{work / 'db.sqlite3'}",
        DJANGO_SETTINGS_MODULE="periscope.settings",
        STATIC_ROOT=str(work / "static"),
    )
    sys.path.insert(0, str(REPO))
    ids = seed(base)
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    browser = None
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{base}/healthz")
                break
            except OSError:
                time.sleep(0.2)
        deliver_everything(base, ids)
        record_other_format(ids)
        ids = after_delivery(ids)

        browser = Browser(chromium, str(work / "profile"))
        browser.open_tab(width=1440)
        browser.go(f"{base}/admin/login/?next=/admin/")
        browser.submit(
            "document.querySelector('#id_username').value = 'admin';"
            f"document.querySelector('#id_password').value = {json.dumps(PASSWORD)};"
            "document.querySelector('#login-form').submit();"
        )
        # More room for the tables: fold the admin's navigation sidebar.
        browser.evaluate("localStorage.setItem('django.admin.navSidebarIsOpen', 'false')")
        browser.go(f"{base}/admin/services/servicesuggestion/")
        browser.screenshot(DOCS / "admin-suggestions.png")
        # The attach step: pick suggestions, choose the action, search the organization's services.
        pk = ids["suggestion_to_attach"]
        browser.submit(
            f"document.querySelector('input[name=_selected_action][value=\"{pk}\"]').checked = true;"
            "document.querySelector('select[name=action]').value = 'attach_to_service';"
            "document.querySelector('#changelist-form').submit();"
        )
        browser.evaluate(
            "django.jQuery('#id_service').select2('open');"
            "const box = document.querySelector('.select2-search__field');"
            "box.value = 'c'; box.dispatchEvent(new Event('input', {bubbles: true}));"
        )
        time.sleep(1.5)
        browser.screenshot(DOCS / "admin-attach.png", max_height=700)
        browser.go(f"{base}/admin/services/service/{ids['checkout']}/change/")
        browser.screenshot(DOCS / "admin-service-aliases.png")
        browser.go(f"{base}/admin/deployments/deployment/{ids['deployment']}/change/")
        browser.evaluate(
            "document.querySelectorAll('.periscope-delivery-log details')[3].open = true"
        )
        browser.screenshot(DOCS / "admin-delivery-log.png", selector=".periscope-delivery-log")
    finally:
        if browser:
            browser.close()
        server.terminate()
        server.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
