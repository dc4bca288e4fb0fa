"""`make bench`: every workflow's diagram page (`sandbox graph WORKFLOW --html`) opened in Debian's Chromium,
headless and offline: the page says Mermaid rendered, every state's name is text in the drawn SVG, and the
screenshot has drawn pixels. `make bench` installs Chromium with apt-get when it is missing.

Here rather than in `make test`: CI starts from a fresh machine, where Chromium would have to be installed
first (about 30 s of apt-get and some 300 MB) and each page costs a browser start (6-9 s on this machine's
two cores); the diagram text, the page's contents and the README blocks are checked by fast tests
(tests/sandbox_core/test_graph.py, tests/templates/test_diagrams.py). A page that does not render fails
the bench (exit 1 after the table).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from sandbox.graph.browser import ChromiumMissing, check_page
from sandbox.graph.command import diagrams, workflow_state_machines, write_html
from sandbox.graph.mermaid import state_names
from stacks.common.registry import workflow_names


class PagesDidNotRender(AssertionError):
    """A diagram page failed in the browser (the bench's table says which and why)."""


def bench_graph_pages(*, console: Console | None = None, out_dir: Path | None = None) -> None:
    console = console or Console(width=150)
    table = Table(title="diagram pages in headless Chromium (sandbox graph WORKFLOW --html)")
    for column in ("workflow", "page", "rendered", "state names drawn", "screenshot", "colours", "browser time", "verdict"):
        table.add_column(column)
    failed = []
    with tempfile.TemporaryDirectory(prefix="graph-pages-") as scratch:
        folder = out_dir or Path(scratch)
        for workflow in workflow_names():
            machines = workflow_state_machines(workflow)
            page = folder / f"{workflow}.html"
            write_html(page, workflow, diagrams(workflow, machines), None)
            names = [name for machine in machines for name in state_names(machine)]
            started = time.perf_counter()
            try:
                check = check_page(page, names)
            except ChromiumMissing as exc:
                console.print(f"[red]{exc}[/red]")
                raise PagesDidNotRender(str(exc)) from None
            seconds = time.perf_counter() - started
            verdict = "ok" if check.ok else "FAILED"
            if not check.ok:
                failed.append(workflow)
            table.add_row(workflow, f"{page.stat().st_size / 1e6:.1f} MB", check.rendered + (f" ({check.error})" if check.error else ""),
                          f"{len(check.names_found)}/{len(names)}" + (f" missing: {', '.join(check.names_missing)}" if check.names_missing else ""),
                          f"{check.screenshot_bytes:,} B", f"{check.screenshot_colours:,}", f"{seconds:.1f} s", verdict)
    console.print(table)
    if failed:
        raise PagesDidNotRender(f"diagram pages that did not render: {', '.join(failed)}")


if __name__ == "__main__":
    bench_graph_pages()
