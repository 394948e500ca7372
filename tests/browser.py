"""A real headless Chromium driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``: JSON messages
ended by NUL on file descriptors 3 and 4), so the tests look at a page as a person's browser shows it, with no
driver package: what loaded, what the console said, and a screenshot."""

import base64
import fcntl
import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

NAMES = ("chromium", "chromium-browser", "google-chrome")


def chromium() -> str:
    """The browser's path; as root, Debian's package is installed when missing (CI's .ci/run installs it first)."""
    found = next((path for name in NAMES if (path := shutil.which(name))), None)
    if found is None and os.geteuid() == 0:
        subprocess.run("apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "
                       "--no-install-recommends chromium", shell=True, check=True, capture_output=True, timeout=900)
        found = shutil.which("chromium")
    if found is None:
        pytest.skip("no Chromium: apt-get install chromium (as root; .ci/run does)")
    return found


def _wire(commands: int, replies: int) -> None:
    """In the browser's process, before exec: our pipe ends as its fds 3 and 4 (through fds >= 10, so that neither
    end is overwritten while the other is moved)."""
    high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (commands, replies)]
    os.dup2(high[0], 3)
    os.dup2(high[1], 4)


@dataclass
class Look:
    """What the browser saw: the images (alt, loaded, natural width), console and log errors, a PNG screenshot."""

    images: list[tuple[str, bool, int]]
    errors: list[str] = field(default_factory=list)
    screenshot: bytes = b""
    title: str = ""


class Browser:
    def __init__(self, profile: Path):
        self.commands_r, self.commands_w = os.pipe()  # we write, the browser reads (its fd 3)
        self.replies_r, self.replies_w = os.pipe()  # the browser writes (its fd 4), we read
        self.proc = subprocess.Popen(
            [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe", "--no-first-run",
             f"--user-data-dir={profile}", "--window-size=1280,2000", "about:blank"],
            pass_fds=(3, 4), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=lambda: _wire(self.commands_r, self.replies_w))
        os.close(self.commands_r)
        os.close(self.replies_w)
        self.next_id, self.buffer, self.events = 0, b"", []

    def send(self, method: str, params: dict | None = None, session: str | None = None, timeout: float = 60) -> dict:
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self.commands_w, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            reply = self._read()
            if reply.get("id") == self.next_id:
                assert "error" not in reply, reply
                return reply["result"]
            self.events.append(reply)
        raise TimeoutError(method)

    def wait_for(self, event: str, timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = next((e for e in self.events if e.get("method") == event), None)
            if found:
                return found
            self.events.append(self._read())
        raise TimeoutError(event)

    def _read(self) -> dict:
        while b"\0" not in self.buffer:
            chunk = os.read(self.replies_r, 1 << 16)
            if not chunk:
                raise EOFError("the browser closed its pipe")
            self.buffer += chunk
        message, _, self.buffer = self.buffer.partition(b"\0")
        return json.loads(message)

    def look(self, page: Path) -> Look:
        """Open ``page`` in a new tab, wait for its load event, and report what a person would see."""
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.send(f"{domain}.enable", session=session)
        self.events.clear()
        self.send("Page.navigate", {"url": page.resolve().as_uri()}, session)
        self.wait_for("Page.loadEventFired")
        images = self.send("Runtime.evaluate", {"expression": "Array.from(document.images).map(i => [i.alt, "
                                                "i.complete, i.naturalWidth])", "returnByValue": True},
                           session)["result"]["value"]
        title = self.send("Runtime.evaluate", {"expression": "document.title", "returnByValue": True},
                          session)["result"]["value"]
        shot = self.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}, session)
        errors = [json.dumps(e["params"])[:300] for e in self.events if e.get("method") == "Runtime.exceptionThrown"
                  or (e.get("method") == "Runtime.consoleAPICalled" and e["params"]["type"] in ("error", "assert"))
                  or (e.get("method") == "Log.entryAdded" and e["params"]["entry"]["level"] == "error")]
        return Look([tuple(i) for i in images], errors, base64.b64decode(shot["data"]), title)

    def close(self) -> None:
        try:
            self.send("Browser.close", timeout=10)
        except (TimeoutError, EOFError, OSError):
            pass
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        os.close(self.commands_w)
        os.close(self.replies_r)
