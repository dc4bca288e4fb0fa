"""A BigQuery stand-in: the `bqemulator` REST emulator (DuckDB-backed) behind a small proxy.

- `bqemulator` runs as a child process on free ports (picked by binding port 0 just
  before the start; a start that loses the port race is retried on new ports). It
  runs offline: DuckDB's `spatial` extension is installed once from the
  `duckdb-extension-spatial` wheel's file (`INSTALL '<path>'`), never downloaded.
- The sandbox seeds a dataset with the source table (`events`: event_date DATE,
  user_id STRING, amount INT64) and the target table (`weekly_summary`).
- A proxy on its own free port is what the functions are pointed at. It forwards
  every request to the emulator and plays the outside world (`BigQueryBehaviour`):
  * the target date's rows "arrive" after `appear_after_checks` empty checks: each
    count query (the one with a `target_date` parameter) first makes the source hold
    0 rows for that date, or `rows` rows (plus two rows on each of the six days
    before it) once enough checks have come;
  * the first `fail_times` queries of kind `fail_on` (check, insert, any) fail with
    `fail_mode`: "5xx" (503), "auth" (401), "quota" (403 quotaExceeded), "4xx" (400)
    "timeout" (answers after `slow_seconds`), "garbage" (200 with an HTML page, as a proxy or captive
    portal in the way would answer) or "crash" (`on_crash(kind)` is called, which the sandbox uses to kill
    the querying function mid-query, then the connection is dropped); `fail_times=-1` fails all of them.
"""

from __future__ import annotations

import http.client
import json
import math
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable

FAIL_MODES = ("5xx", "auth", "quota", "4xx", "timeout", "garbage", "crash")
FAIL_ON = ("any", "check", "insert")
PROJECT = "local-project"
START_ATTEMPTS = 5
READY_TIMEOUT_S = 60.0

SOURCE_SCHEMA = "event_date DATE, user_id STRING, amount INT64"
TARGET_SCHEMA = "week_start DATE, week_end DATE, user_id STRING, events INT64, amount INT64"


class BigQueryStandInError(RuntimeError):
    """The emulator could not be started or seeded."""


@dataclass(frozen=True)
class BigQueryBehaviour:
    """How the outside world behaves. Defaults: 3 rows at the first check, never fails."""

    rows: int = 3
    appear_after_checks: int = 0
    fail_mode: str = "5xx"
    fail_times: int = 0
    fail_on: str = "any"
    slow_seconds: float = 6.0

    def __post_init__(self) -> None:
        if self.fail_mode not in FAIL_MODES:
            raise ValueError(f"fail_mode must be one of {', '.join(FAIL_MODES)}")
        if self.fail_on not in FAIL_ON:
            raise ValueError(f"fail_on must be one of {', '.join(FAIL_ON)}")
        if self.rows < 0 or self.rows > 10_000:
            raise ValueError("rows must be between 0 and 10000")
        if self.appear_after_checks < 0:
            raise ValueError("appear_after_checks must not be negative")
        if self.fail_times < -1:
            raise ValueError("fail_times must be -1 (always) or a count >= 0")
        if not (math.isfinite(self.slow_seconds) and 0 <= self.slow_seconds <= 60):
            raise ValueError("slow_seconds must be a number between 0 and 60")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def ensure_spatial_extension() -> None:
    """Install DuckDB's spatial extension from the wheel's file (bqemulator loads it; no internet here)."""
    import duckdb
    import duckdb_extension_spatial
    from filelock import FileLock

    lock_dir = Path.home() / ".duckdb"
    lock_dir.mkdir(parents=True, exist_ok=True)
    with FileLock(str(lock_dir / "spatial-install.lock"), timeout=120), duckdb.connect() as connection:
        installed = connection.execute("SELECT installed FROM duckdb_extensions() WHERE extension_name = 'spatial'").fetchone()
        if installed and installed[0]:
            return
        package = Path(duckdb_extension_spatial.__file__).resolve().parent
        files = sorted(package.glob(f"extensions/v{duckdb.__version__}/spatial.duckdb_extension"))
        if not files:
            raise BigQueryStandInError(f"duckdb-extension-spatial has no extension file for duckdb {duckdb.__version__}")
        connection.execute(f"INSTALL '{files[0]}'")


class BigQueryEmulator:
    """`bqemulator start` as a child process on free ports. Context manager; `url` is its REST endpoint."""

    def __init__(self, *, project: str = PROJECT) -> None:
        self.project = project
        self.rest_port = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.rest_port}"

    def __enter__(self) -> "BigQueryEmulator":
        ensure_spatial_extension()
        last_error = ""
        for _ in range(START_ATTEMPTS):
            rest_port, grpc_port = free_port(), free_port()
            if rest_port == grpc_port:
                continue
            log = open(os.devnull, "wb")  # noqa: SIM115 - closed with the process
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "bqemulator",
                    "start",
                    "--rest-port",
                    str(rest_port),
                    "--grpc-port",
                    str(grpc_port),
                    "--project",
                    self.project,
                    "--ephemeral",
                    "--log-level",
                    "error",
                ],
                stdout=log,
                stderr=subprocess.PIPE,
                stdin=subprocess.DEVNULL,
            )
            log.close()
            self.rest_port, self._process = rest_port, process
            ready, last_error = self._wait_ready(process)
            if ready:
                return self
            self._stop()
        raise BigQueryStandInError(f"bqemulator did not start after {START_ATTEMPTS} attempts: {last_error[-500:]}")

    def _wait_ready(self, process: subprocess.Popen[bytes]) -> tuple[bool, str]:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if process.poll() is not None:  # lost the port race, or a start-up error
                return False, (process.stderr.read() if process.stderr else b"").decode(errors="replace")
            try:
                with urllib.request.urlopen(f"{self.url}/bigquery/v2/projects/{self.project}/datasets", timeout=1) as answer:
                    if answer.status == 200:
                        return True, ""
            except OSError:
                pass
            time.sleep(0.2)
        return False, "not ready in time"

    def _stop(self) -> None:
        if self._process is None:
            return
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=10)
        if self._process.stderr:
            self._process.stderr.close()
        self._process = None

    def __exit__(self, *exc: object) -> None:
        self._stop()

    def client(self) -> Any:
        from google.api_core.client_options import ClientOptions
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import bigquery

        return bigquery.Client(
            project=self.project, credentials=AnonymousCredentials(), client_options=ClientOptions(api_endpoint=self.url)
        )


@dataclass
class BigQueryStandIn:
    """The emulator, seeded, behind the failure-injecting proxy. `url` is what functions call."""

    dataset: str
    source_table: str = "events"
    target_table: str = "weekly_summary"
    behaviour: BigQueryBehaviour = field(default_factory=BigQueryBehaviour)
    queries: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self.on_crash: Callable[[str], None] | None = None  # "check" | "insert": kill the caller mid-query
        self._server: ThreadingHTTPServer | None = None
        self._emulator = BigQueryEmulator()
        self._checks = 0
        self._failures = 0
        self._client: Any = None

    @property
    def url(self) -> str:
        assert self._server, "not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> "BigQueryStandIn":
        self._emulator.__enter__()
        try:
            self._client = self._emulator.client()
            self._seed()
            self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
            self._server.daemon_threads = True
            threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="standin-bigquery",
                             daemon=True).start()
        except BaseException:
            self._emulator.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
        self._emulator.__exit__(*exc)

    def configure(self, behaviour: BigQueryBehaviour | None = None, **changes: Any) -> None:
        """Change the behaviour (a whole `BigQueryBehaviour`, or fields); reset the counters and the query log."""
        new = replace(behaviour or self.behaviour, **changes)
        with self._lock:
            self.behaviour = new
            self.queries.clear()
            self._checks = 0
            self._failures = 0

    # ---- data ------------------------------------------------------------------------------

    def _table(self, name: str) -> str:
        return f"`{PROJECT}.{self.dataset}.{name}`"

    def _seed(self) -> None:
        self._client.create_dataset(self.dataset, exists_ok=True)
        for name, schema in ((self.source_table, SOURCE_SCHEMA), (self.target_table, TARGET_SCHEMA)):
            self._client.query(f"CREATE TABLE IF NOT EXISTS {self._table(name)} ({schema})").result()

    def _query(self, sql: str, **parameters: Any) -> list[Any]:
        from google.cloud import bigquery

        config = bigquery.QueryJobConfig(
            query_parameters=[
                bigquery.ScalarQueryParameter(name, "DATE" if isinstance(value, date) else "INT64", value)
                for name, value in parameters.items()
            ]
        )
        return list(self._client.query(sql, job_config=config).result())

    def set_rows(self, target: date, rows: int) -> None:
        """Make the source hold exactly `rows` rows on `target` (and, with rows, two on each of the six days before)."""
        week_start = target - timedelta(days=6)
        self._query(
            f"DELETE FROM {self._table(self.source_table)} WHERE event_date BETWEEN @week_start AND @target",
            week_start=week_start,
            target=target,
        )
        if rows:
            self._query(
                f"INSERT INTO {self._table(self.source_table)} (event_date, user_id, amount) "
                "SELECT @target, CONCAT('u', CAST(n AS STRING)), n FROM UNNEST(GENERATE_ARRAY(1, @rows)) AS n",
                target=target,
                rows=rows,
            )
            self._query(
                f"INSERT INTO {self._table(self.source_table)} (event_date, user_id, amount) "
                "SELECT DATE_ADD(@week_start, INTERVAL d DAY), CONCAT('u', CAST(u AS STRING)), 10 "
                "FROM UNNEST(GENERATE_ARRAY(0, 5)) AS d CROSS JOIN UNNEST(GENERATE_ARRAY(1, 2)) AS u",
                week_start=week_start,
            )

    def target_rows(self, week_start: date) -> list[tuple[Any, ...]]:
        """The target table's rows for one week, sorted (what the MERGE left)."""
        rows = self._query(
            f"SELECT week_start, week_end, user_id, events, amount FROM {self._table(self.target_table)} "
            "WHERE week_start = @week_start ORDER BY user_id",
            week_start=week_start,
        )
        return [tuple(row.values()) for row in rows]

    def drop_target_table(self) -> None:
        self._client.query(f"DROP TABLE IF EXISTS {self._table(self.target_table)}").result()

    def restore_target_table(self) -> None:
        self._client.query(f"CREATE TABLE IF NOT EXISTS {self._table(self.target_table)} ({TARGET_SCHEMA})").result()

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                "queries": len(self.queries),
                "checks": sum(1 for query in self.queries if query["kind"] == "check" and not query["failed"]),
                "inserts": sum(1 for query in self.queries if query["kind"] == "insert" and not query["failed"]),
                "failures_injected": self._failures,
            }

    # ---- proxy -----------------------------------------------------------------------------

    @staticmethod
    def _parameters(body: bytes) -> dict[str, str]:
        try:
            document = json.loads(body or b"{}")
        except ValueError:
            return {}
        if not isinstance(document, dict):
            return {}
        query = (
            document.get("configuration", {}).get("query", document)
            if isinstance(document.get("configuration"), dict)
            else document
        )
        values = {}
        for parameter in query.get("queryParameters", []) or []:
            if isinstance(parameter, dict):
                values[parameter.get("name")] = (parameter.get("parameterValue") or {}).get("value")
        return values

    def _before_forward(self, method: str, body: bytes) -> tuple[str | None, str | None]:
        """(failure mode to answer with or None, query kind or None) for one request."""
        if method != "POST":
            return None, None
        parameters = self._parameters(body)
        kind = "check" if "target_date" in parameters else "insert" if "week_start" in parameters else None
        if kind is None:
            return None, None
        with self._lock:
            behaviour = self.behaviour
            matching = behaviour.fail_on in ("any", kind)
            failing = matching and (behaviour.fail_times < 0 or self._failures < behaviour.fail_times)
            if failing:
                self._failures += 1
            self.queries.append({"kind": kind, "parameters": parameters, "failed": failing})
            if failing:
                return behaviour.fail_mode, kind
            if kind == "check":
                self._checks += 1
                present = self._checks > behaviour.appear_after_checks
                self.set_rows(date.fromisoformat(parameters["target_date"]), behaviour.rows if present else 0)
        return None, kind

    def _forward(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self._emulator.rest_port, timeout=60)
        try:
            connection.request(method, path, body=body or None, headers=headers)
            answer = connection.getresponse()
            data = answer.read()
            kept = [
                (k, v) for k, v in answer.getheaders() if k.lower() not in ("transfer-encoding", "connection", "content-length")
            ]
            return answer.status, kept, data
        finally:
            connection.close()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        standin = self
        failures = {
            "5xx": (503, "backendError", "service unavailable"),
            "auth": (401, "authError", "Request had invalid authentication credentials."),
            "quota": (403, "quotaExceeded", "Quota exceeded: too many concurrent queries"),
            "4xx": (400, "invalidQuery", "Syntax error"),
            "timeout": (503, "backendError", "too late"),
        }

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                mode, kind = standin._before_forward(self.command, body)
                if mode == "crash":
                    if standin.on_crash is not None and kind is not None:
                        standin.on_crash(kind)
                    self.close_connection = True  # the caller is gone (or, without a runtime, hung up on)
                    return
                if mode == "garbage":
                    self._send(200, [("Content-Type", "text/html")], b"<html><body>Gateway says hello</body></html>")
                    return
                if mode is not None:
                    if mode == "timeout":
                        time.sleep(standin.behaviour.slow_seconds)
                    status, reason, message = failures[mode]
                    error = {"error": {"code": status, "message": message, "errors": [{"reason": reason, "message": message}]}}
                    self._send(status, [("Content-Type", "application/json")], json.dumps(error).encode())
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection", "content-length")}
                try:
                    status, answer_headers, data = standin._forward(self.command, self.path, headers, body)
                except OSError:
                    self._send(
                        502, [("Content-Type", "application/json")], b'{"error":{"code":502,"message":"emulator unreachable"}}'
                    )
                    return
                self._send(status, answer_headers, data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle  # noqa: N815 - http.server API

            def _send(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
                try:
                    self.send_response(status)
                    for key, value in headers:
                        self.send_header(key, value)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (its timeout during "timeout")

            def log_message(self, *args: Any) -> None:
                pass

        return Handler
