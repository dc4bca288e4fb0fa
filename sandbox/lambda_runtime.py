"""Local Lambda runtime for the embedded moto: warm worker processes instead of Docker.

``LocalLambdaRuntime.install()`` replaces ``moto.awslambda.models.LambdaFunction._invoke_lambda``
(which returns ``(payload_json, errored, logs)``) so that every Invoke that reaches moto -
from the Step Functions interpreter, from a handler's boto3 client, from the runner - runs the
function's handler from the code moto stores for it (the deployed zip), in a worker process
started with ``python -I -S`` and ``sys.path = [code, runtime deps] + stdlib``.

Function errors come back as Lambda returns them (``{"errorType", "errorMessage", "stackTrace"}``
with the ``FunctionError`` header set), so ``Retry``/``Catch`` in moto's interpreter match on the
exception class name, as in AWS.
"""

from __future__ import annotations

import collections
import hashlib
import io
import json
import math
import os
import select
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from filelock import FileLock

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CACHE_DIR = REPO_ROOT / ".sandbox"
WORKER_PROGRAM = Path(__file__).resolve().parent / "lambda_worker.py"
INIT_TIMEOUT_S = 10.0  # AWS Lambda's init phase limit
DEFAULT_MAX_WORKERS_PER_FUNCTION = 4


def ensure_runtime_deps(cache_dir: Path) -> Path:
    """Install what the AWS Lambda Python runtime provides (boto3/botocore) into ``cache_dir`` once.

    Uses ``pip install --target`` with the venv's boto3 version; if pip cannot reach a registry,
    copies boto3 and its dependencies from the venv instead. A marker file records success.
    """
    import boto3

    cache_dir = Path(cache_dir)
    version = boto3.__version__
    marker = cache_dir / f".installed-boto3-{version}"
    if marker.exists():
        return cache_dir
    cache_dir.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(cache_dir) + ".lock"):  # another sandbox process may be installing them
        if not marker.exists():
            _install_runtime_deps(cache_dir, version, marker)
    return cache_dir


def _install_runtime_deps(cache_dir: Path, version: str, marker: Path) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="runtime-deps-", dir=cache_dir.parent))
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-input",
             "--target", str(tmp), f"boto3=={version}"],
            capture_output=True, text=True, timeout=300,
        )
        if proc.returncode != 0:
            _copy_boto3_from_host(tmp)
        (tmp / marker.name).write_text(f"boto3=={version}\n")
        if cache_dir.exists():
            shutil.rmtree(cache_dir)
        tmp.rename(cache_dir)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _copy_boto3_from_host(target: Path) -> None:
    import importlib.metadata as md

    for dist_name in ("boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six", "urllib3"):
        dist = md.distribution(dist_name)
        for f in dist.files or []:
            src = Path(dist.locate_file(f))
            if not src.is_file() or "__pycache__" in f.parts:
                continue
            dst = target / f
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)


def prune_code_cache(cache_dir: Path, *, unused_since: float) -> list[str]:
    """Remove extracted function code (and worker logs) not used since `unused_since` (a time.time() value)."""
    removed = []
    functions = Path(cache_dir) / "functions"
    for path in functions.glob("*") if functions.exists() else ():
        marker = path / ".extracted"
        if path.is_dir() and not path.name.startswith(".") and (not marker.exists() or marker.stat().st_mtime < unused_since):
            shutil.rmtree(path, ignore_errors=True)
            Path(str(path) + ".lock").unlink(missing_ok=True)
            removed.append(path.name)
    logs = Path(cache_dir) / "logs"
    for path in logs.glob("*.log") if logs.exists() else ():
        if path.stat().st_mtime < unused_since:
            path.unlink(missing_ok=True)
    return removed


@dataclass(frozen=True)
class InvocationResult:
    function_name: str
    request_id: str
    payload: str  # the JSON text Lambda returns (result, or the error object)
    errored: bool
    logs: str
    duration_ms: float
    cold_start: bool

    @property
    def payload_obj(self) -> Any:
        return json.loads(self.payload)


@dataclass(frozen=True)
class _FunctionSpec:
    function_name: str
    function_arn: str
    handler: str
    timeout_s: float
    memory_mb: int
    version: str
    log_group_name: str
    environment: tuple[tuple[str, str], ...]
    code_sha: str
    max_workers: int


class _Worker:
    def __init__(self, spec: _FunctionSpec, code_dir: Path, deps_dir: Path, env: dict[str, str],
                 log_path: Path) -> None:
        self.spec = spec
        self.log_path = log_path
        self._log_file = open(log_path, "ab")
        read_fd, write_fd = os.pipe()
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-I", "-S", str(WORKER_PROGRAM), str(code_dir), str(deps_dir), spec.handler,
                 str(write_fd)],
                stdin=subprocess.PIPE, stdout=self._log_file, stderr=self._log_file, env=env, cwd=str(code_dir),
                pass_fds=(write_fd,), start_new_session=True,
            )
        finally:
            os.close(write_fd)
        self._read_fd = read_fd
        self._buf = b""
        self.init_report: dict[str, Any] | None = None
        self.fresh = True

    def read_message(self, timeout_s: float) -> dict[str, Any] | None:
        """Next JSON line from the worker; None on timeout; raises EOFError if the worker died."""
        deadline = time.monotonic() + timeout_s
        while b"\n" not in self._buf:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            ready, _, _ = select.select([self._read_fd], [], [], remaining)
            if not ready:
                return None
            chunk = os.read(self._read_fd, 65536)
            if not chunk:
                raise EOFError
            self._buf += chunk
        line, _, self._buf = self._buf.partition(b"\n")
        return json.loads(line)

    def send(self, obj: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write((json.dumps(obj) + "\n").encode())
        self.proc.stdin.flush()

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        try:
            os.killpg(self.proc.pid, 9)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.proc.wait(timeout=5)
        except Exception:
            pass
        self.close()

    def stop(self) -> None:
        """End the worker as Lambda ends an execution environment: the process is killed, not asked (a Python
        interpreter's own shutdown would take most of a second, and everything the handler wrote is flushed
        to the log file after each invocation already)."""
        try:
            if self.proc.stdin and not self.proc.stdin.closed:
                self.proc.stdin.close()
        except OSError:
            pass
        self.kill()

    def close(self) -> None:
        for closer in (lambda: os.close(self._read_fd), self._log_file.close):
            try:
                closer()
            except OSError:
                pass
        self._read_fd = -1


class _Pool:
    """Warm workers of one function (one config + code version)."""

    def __init__(self, spec: _FunctionSpec) -> None:
        self.spec = spec
        self.cond = threading.Condition()
        self.idle: list[_Worker] = []
        self.busy = 0

    def total(self) -> int:
        return len(self.idle) + self.busy


class LocalLambdaRuntime:
    """Replaces moto.awslambda.models.LambdaFunction._invoke_lambda (returns (payload_json, errored, logs)) with local warm workers."""

    def __init__(self, *, endpoint_url: str, region: str, runtime_deps_dir: Path,
                 extra_env: dict[str, str] | None = None, account_id: str = "123456789012",
                 cache_dir: Path | None = None, max_workers_per_function: int = DEFAULT_MAX_WORKERS_PER_FUNCTION) -> None:
        self.endpoint_url = endpoint_url
        self.region = region
        self.account_id = account_id
        self.runtime_deps_dir = Path(runtime_deps_dir)
        self.extra_env = dict(extra_env or {})
        self.cache_dir = Path(cache_dir or DEFAULT_CACHE_DIR)
        self.max_workers_per_function = max_workers_per_function
        self.invocations: collections.Counter[str] = collections.Counter()
        # Lambda bills duration rounded up to the millisecond, times configured memory.
        self.billed_gb_seconds = 0.0
        self.billed_ms: collections.Counter[str] = collections.Counter()  # per function name, at its memory
        self.worker_starts = 0  # cold starts: worker processes started, and the seconds until their handler was loaded
        self.worker_start_s = 0.0
        self._lock = threading.Lock()
        self._pools: dict[str, _Pool] = {}  # function arn -> pool
        self._original: Any = None
        self._extract_lock = threading.Lock()
        self._running: dict[str, tuple[str, _Worker]] = {}  # request id -> (function name, worker)
        self._crashes: dict[str, tuple[int, float]] = {}  # function name -> (invocations left to crash, seconds in)
        self.crashed: collections.Counter[str] = collections.Counter()  # function name -> invocations crashed

    # -- patch ------------------------------------------------------------------
    def install(self) -> None:
        from moto.awslambda.models import LambdaFunction

        if self._original is not None:
            return
        self._original = LambdaFunction.__dict__["_invoke_lambda"]
        runtime = self

        def _invoke_lambda(fn: Any, event: Any = None) -> tuple[str, bool, str]:
            result = runtime._invoke_moto_function(fn, event)
            try:
                if result.logs:
                    fn.logs_backend.ensure_log_group(fn.logs_group_name)
                    fn.save_logs(result.logs)
            except Exception:
                pass
            return result.payload, result.errored, result.logs

        LambdaFunction._invoke_lambda = _invoke_lambda  # type: ignore[method-assign]

    def uninstall(self) -> None:
        from moto.awslambda.models import LambdaFunction

        if self._original is not None:
            LambdaFunction._invoke_lambda = self._original  # type: ignore[method-assign]
            self._original = None

    def stop_all(self) -> None:
        with self._lock:
            pools = list(self._pools.values())
            self._pools.clear()
        workers: list[_Worker] = []
        for pool in pools:
            with pool.cond:
                workers += pool.idle
                pool.idle = []
        for w in workers:
            w.stop()

    def kill_running(self, function_name: str) -> int:
        """Kill the worker processes running an invocation of `function_name` now, as a Lambda
        crash (out of memory, runtime killed) would end it; returns how many were killed.
        The invocation ends as `Runtime.ExitError`."""
        with self._lock:
            workers = [worker for name, worker in self._running.values() if name == function_name]
        for worker in workers:
            try:
                os.killpg(worker.proc.pid, 9)
            except (ProcessLookupError, PermissionError):
                pass
        return len(workers)

    def crash(self, function_name: str, *, times: int, after_s: float = 0.5) -> None:
        """Crash the next `times` invocations of `function_name` mid-invocation, as a Lambda worker killed
        by the platform (out of memory, a host failure) ends: `after_s` seconds into the invocation its
        worker process is killed and the invocation ends as `Runtime.ExitError`. An invocation whose
        handler returns sooner is killed as it returns: its work done, its answer lost. `after_s=0`: killed
        as the invocation starts, before its handler runs. `times=0` cancels."""
        if times < 0 or not 0 <= after_s <= 900:
            raise ValueError("crash needs times >= 0 and after_s between 0 and 900 seconds")
        with self._lock:
            if times:
                self._crashes[function_name] = (times, after_s)
            else:
                self._crashes.pop(function_name, None)

    def crashes_left(self, function_name: str) -> int:
        """How many of the planned crashes of `function_name` have not happened yet."""
        with self._lock:
            return self._crashes.get(function_name, (0, 0.0))[0]

    def _take_crash(self, function_name: str) -> float | None:
        """If this invocation is to crash: how many seconds in (and one planned crash fewer)."""
        with self._lock:
            planned = self._crashes.get(function_name)
            if planned is None:
                return None
            times, after_s = planned
            if times <= 1:
                del self._crashes[function_name]
            else:
                self._crashes[function_name] = (times - 1, after_s)
            self.crashed[function_name] += 1
            return after_s

    def running(self, function_name: str) -> int:
        """How many invocations of `function_name` are running now."""
        with self._lock:
            return sum(1 for name, _ in self._running.values() if name == function_name)

    # -- invoke -----------------------------------------------------------------
    def invoke_direct(self, function_name: str, event: Any) -> InvocationResult:
        """Invoke a deployed function through the same worker path, without going through HTTP."""
        from moto.awslambda.models import lambda_backends

        fn = lambda_backends[self.account_id][self.region].get_function(function_name)
        return self._invoke_moto_function(fn, event)

    def _spec_for(self, fn: Any) -> tuple[_FunctionSpec, bytes]:
        code = fn.code_bytes or b""
        if not code:
            raise RuntimeError(f"function {fn.function_name} has no zip code in moto (image functions are not supported)")
        env = tuple(sorted((str(k), "" if v is None else str(v)) for k, v in (fn.environment_vars or {}).items()))
        max_workers = self.max_workers_per_function
        if fn.reserved_concurrency not in (None, ""):
            max_workers = max(1, min(max_workers, int(fn.reserved_concurrency)))
        spec = _FunctionSpec(
            function_name=fn.function_name, function_arn=fn.function_arn, handler=fn.handler,
            timeout_s=float(fn.timeout or 3), memory_mb=int(fn.memory_size or 128), version=str(fn.version),
            log_group_name=fn.logs_group_name, environment=env, code_sha=hashlib.sha256(code).hexdigest(),
            max_workers=max_workers,
        )
        return spec, code

    def _code_dir(self, sha: str, code: bytes) -> Path:
        """The deployed zip, extracted once per content hash (a file lock shares it between processes)."""
        target = self.cache_dir / "functions" / sha
        marker = target / ".extracted"
        target.parent.mkdir(parents=True, exist_ok=True)
        with self._extract_lock, FileLock(str(target) + ".lock"):
            if not marker.exists():
                shutil.rmtree(target, ignore_errors=True)  # a partial copy left by a killed process
                tmp = Path(tempfile.mkdtemp(prefix=f".{sha[:12]}-", dir=target.parent))
                with zipfile.ZipFile(io.BytesIO(code)) as zf:
                    zf.extractall(tmp)
                (tmp / ".extracted").write_text(sha)
                tmp.rename(target)
            os.utime(marker)  # last use, for prune_code_cache
        return target

    def _worker_env(self, spec: _FunctionSpec) -> dict[str, str]:
        env = {k: os.environ[k] for k in ("PATH", "LANG") if k in os.environ}
        env.update(dict(spec.environment))
        env.update({
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_LAMBDA_FUNCTION_NAME": spec.function_name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
            "AWS_LAMBDA_FUNCTION_VERSION": spec.version,
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(int(spec.timeout_s)),
            "AWS_LAMBDA_LOG_GROUP_NAME": spec.log_group_name,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_python{sys.version_info.major}.{sys.version_info.minor}",
            "_HANDLER": spec.handler,
            "LAMBDA_TASK_ROOT": "",  # filled per code dir below
            "POWERTOOLS_TRACE_DISABLED": "true",  # X-Ray is not emulated
        })
        env.update(self.extra_env)
        return env

    def _pool_for(self, spec: _FunctionSpec) -> _Pool:
        stale: list[_Worker] = []
        with self._lock:
            pool = self._pools.get(spec.function_arn)
            if pool is None or pool.spec != spec:
                if pool is not None:
                    with pool.cond:
                        stale, pool.idle = pool.idle, []
                pool = self._pools[spec.function_arn] = _Pool(spec)
        for w in stale:
            w.stop()
        return pool

    def _acquire(self, pool: _Pool) -> _Worker | None:
        """An idle warm worker, or None when the caller may start a new one (slot reserved)."""
        with pool.cond:
            while True:
                while pool.idle:
                    w = pool.idle.pop()
                    if w.alive():
                        pool.busy += 1
                        return w
                    w.close()
                if pool.total() < pool.spec.max_workers:
                    pool.busy += 1
                    return None
                pool.cond.wait()

    def _release(self, pool: _Pool, worker: _Worker | None) -> None:
        with pool.cond:
            pool.busy -= 1
            if worker is not None and worker.alive():
                current = self._pools.get(pool.spec.function_arn) is pool
                if current:
                    pool.idle.append(worker)
                    worker = None
            pool.cond.notify()
        if worker is not None:
            worker.stop()

    def _invoke_moto_function(self, fn: Any, event: Any) -> InvocationResult:
        if isinstance(event, (str, bytes)):
            try:
                event = json.loads(event)
            except ValueError:
                pass
        spec, code = self._spec_for(fn)
        with self._lock:
            self.invocations[spec.function_name] += 1
        pool = self._pool_for(spec)
        worker = self._acquire(pool)
        try:
            result, worker = self._run(spec, code, worker, event)
        except BaseException:
            if worker is not None:
                worker.kill()
            self._release(pool, None)
            raise
        self._release(pool, worker)
        with self._lock:
            self.billed_gb_seconds += math.ceil(result.duration_ms) / 1000 * spec.memory_mb / 1024
            self.billed_ms[spec.function_name] += math.ceil(result.duration_ms)
        return result

    def _start_worker(self, spec: _FunctionSpec, code: bytes) -> _Worker:
        code_dir = self._code_dir(spec.code_sha, code)
        env = self._worker_env(spec)
        env["LAMBDA_TASK_ROOT"] = str(code_dir)
        log_dir = self.cache_dir / "logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        log_path = log_dir / f"{spec.function_name}-{uuid.uuid4().hex[:8]}.log"
        return _Worker(spec, code_dir, self.runtime_deps_dir, env, log_path)

    def _run(self, spec: _FunctionSpec, code: bytes, worker: _Worker | None,
             event: Any) -> tuple[InvocationResult, _Worker | None]:
        request_id = str(uuid.uuid4())
        started = time.monotonic()
        cold = worker is None
        log_prefix = ""
        if worker is None:
            worker = self._start_worker(spec, code)
            try:
                report = worker.read_message(INIT_TIMEOUT_S)
            except EOFError:
                report = {"errored": True, "payload": json.dumps({
                    "errorType": "Runtime.ExitError", "errorMessage": "Runtime exited during init"})}
            if report is None:
                report = {"errored": True, "payload": json.dumps({
                    "errorType": "Sandbox.Timedout",
                    "errorMessage": f"Init phase timed out after {INIT_TIMEOUT_S:.2f} seconds"})}
            with self._lock:
                self.worker_starts += 1
                self.worker_start_s += time.monotonic() - started
            if report.get("errored"):
                logs = self._read_log(worker, 0)
                worker.kill()
                payload = report["payload"]
                return self._result(spec, request_id, payload, True, logs, started, cold), None
            log_prefix = "INIT_START Runtime Version: python:%d.%d (sandbox)\n" % sys.version_info[:2]
        offset = worker.log_path.stat().st_size if worker.log_path.exists() else 0
        now_ms = time.time() * 1000
        deadline_ms = now_ms + spec.timeout_s * 1000
        stream = f"{datetime.now(timezone.utc):%Y/%m/%d}/[{spec.version}]{uuid.uuid4().hex}"
        crash_after_s = self._take_crash(spec.function_name)
        with self._lock:
            self._running[request_id] = (spec.function_name, worker)
        try:
            if crash_after_s == 0:  # planned crash at the start: the handler never runs
                worker.kill()
                raise EOFError
            worker.send({
                "request_id": request_id, "event": event, "deadline_ms": deadline_ms,
                "context": {
                    "function_name": spec.function_name, "function_version": spec.version,
                    "invoked_function_arn": spec.function_arn, "memory_limit_in_mb": spec.memory_mb,
                    "log_group_name": spec.log_group_name, "log_stream_name": stream,
                },
            })
            if crash_after_s is not None:  # planned crash: whatever the handler does by then is lost with the worker
                worker.read_message(min(crash_after_s, spec.timeout_s))
                worker.kill()
                raise EOFError
            reply = worker.read_message(spec.timeout_s)
        except (EOFError, BrokenPipeError, OSError):
            with self._lock:
                self._running.pop(request_id, None)
            try:  # its pipe closed as it died: its exit status follows
                code_rc = worker.proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                code_rc = None
            logs = log_prefix + self._read_log(worker, offset)
            worker.kill()
            how = "signal: killed" if code_rc == -9 else f"exit status {code_rc}"  # as Lambda words it
            payload = json.dumps({"errorType": "Runtime.ExitError",
                                  "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: {how}"})
            return self._result(spec, request_id, payload, True, logs, started, cold), None
        with self._lock:
            self._running.pop(request_id, None)
        if reply is None:
            worker.kill()
            logs = log_prefix + self._read_log(worker, offset)
            logs += f"{datetime.now(timezone.utc).isoformat()} {request_id} Task timed out after {spec.timeout_s:.2f} seconds\n"
            payload = json.dumps({"errorType": "Sandbox.Timedout",
                                  "errorMessage": f"RequestId: {request_id} Error: Task timed out after {spec.timeout_s:.2f} seconds"})
            return self._result(spec, request_id, payload, True, logs, started, cold), None
        logs = log_prefix + self._read_log(worker, offset)
        return self._result(spec, request_id, reply["payload"], bool(reply["errored"]), logs, started, cold), worker

    @staticmethod
    def _read_log(worker: _Worker, offset: int) -> str:
        try:
            with open(worker.log_path, "rb") as f:
                f.seek(offset)
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    @staticmethod
    def _result(spec: _FunctionSpec, request_id: str, payload: str, errored: bool, logs: str, started: float,
                cold: bool) -> InvocationResult:
        duration_ms = (time.monotonic() - started) * 1000
        cold_note = "\tCold start" if cold else ""
        text = (f"START RequestId: {request_id} Version: {spec.version}\n{logs}"
                f"END RequestId: {request_id}\n"
                f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
                f"Memory Size: {spec.memory_mb} MB{cold_note}\n")
        return InvocationResult(function_name=spec.function_name, request_id=request_id, payload=payload,
                                errored=errored, logs=text, duration_ms=duration_ms, cold_start=cold)
