"""Look at a diagram page as a person would: Debian's Chromium, headless, offline.

`check_page` loads the page from a file, lets Mermaid draw (virtual time, so a busy machine
does not cut it short), and reads back the DOM and a screenshot:

- the page says it rendered (`<body data-rendered="yes">`, set by the page when Mermaid finished);
- each expected state name is a line of text inside a drawn <svg> (a node label's first line, or a group's
  title before its " · ");
- the screenshot is a PNG with drawn pixels (not one flat colour).
"""

from __future__ import annotations

import html
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

# For this closed network: nothing fetched, no first-run or background services.
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars", "--virtual-time-budget=20000")
_SVG = re.compile(r"<svg\b.*?</svg>", re.DOTALL)
_STYLE = re.compile(r"<style\b.*?</style>", re.DOTALL)
_TEXT = re.compile(r">([^<]+)<")


class ChromiumMissing(FileNotFoundError):
    """No `chromium` on PATH: `apt-get install -y chromium` (Debian's package)."""


@dataclass(frozen=True)
class PageCheck:
    rendered: str  # the page's data-rendered: "yes", "error" or "no" (Mermaid never finished)
    error: str | None
    names_found: tuple[str, ...]
    names_missing: tuple[str, ...]
    screenshot: Path
    screenshot_bytes: int
    screenshot_colours: int  # distinct colours in the screenshot (1: a blank page)

    @property
    def ok(self) -> bool:
        return self.rendered == "yes" and not self.names_missing and self.screenshot_bytes > 0 and self.screenshot_colours > 1


def chromium_binary() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        raise ChromiumMissing("chromium is not installed; on Debian: apt-get install -y chromium")
    return found


def _chromium(page: Path, *extra: str, timeout_s: float) -> str:
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        result = subprocess.run([chromium_binary(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *extra, page.resolve().as_uri()],
                                capture_output=True, text=True, timeout=timeout_s, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"chromium exited {result.returncode}: {result.stderr.strip()[-500:]}")
    return result.stdout


def svg_lines(dom: str) -> list[str]:
    """The text nodes of every <svg> in a DOM dump (style sheets left out, entities decoded, spaces collapsed)."""
    return [" ".join(html.unescape(text).split()) for svg in _SVG.findall(dom) for text in _TEXT.findall(_STYLE.sub("", svg))]


def drawn(name: str, lines: list[str]) -> bool:
    name = " ".join(name.split())
    return any(line == name or line.startswith(name + " · ") for line in lines)


def _colours(png: Path) -> int:
    from PIL import Image

    with Image.open(png) as image:
        return len(image.convert("RGB").getcolors(maxcolors=1 << 24) or [])


def check_page(page: Path, names: Iterable[str], *, screenshot: Path | None = None, timeout_s: float = 90,
               window: tuple[int, int] = (1600, 2000)) -> PageCheck:
    dom = _chromium(page, "--dump-dom", timeout_s=timeout_s)
    body = re.search(r"<body\b([^>]*)>", dom)
    attributes = body.group(1) if body else ""
    rendered = re.search(r'data-rendered="([^"]*)"', attributes)
    error = re.search(r'data-error="([^"]*)"', attributes)
    lines = svg_lines(dom)
    names = list(names)
    found = tuple(n for n in names if drawn(n, lines))
    shot = screenshot or page.with_suffix(".png")
    _chromium(page, f"--screenshot={shot.resolve()}", f"--window-size={window[0]},{window[1]}", timeout_s=timeout_s)
    size = shot.stat().st_size if shot.exists() else 0
    return PageCheck(rendered=rendered.group(1) if rendered else "no", error=html.unescape(error.group(1)) if error else None,
                     names_found=found, names_missing=tuple(n for n in names if n not in found), screenshot=shot,
                     screenshot_bytes=size, screenshot_colours=_colours(shot) if size else 0)
