"""Embedded AWS emulator: moto as a threaded server on 127.0.0.1, in this process.

Running moto in *this* process (not a subprocess) is what lets the sandbox patch
moto's classes: the local Lambda runtime replaces
``moto.awslambda.models.LambdaFunction._invoke_lambda``, and the deploy step
reads moto's CloudFormation resource map to resolve state machine definitions.

moto's backends are process-global, so only one ``Emulator`` may be active in a
process at a time (the context manager enforces it and resets moto on exit).
"""

from __future__ import annotations

import collections
import io
import json
import logging
import os
import re
import tempfile
import threading
import time
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable
from urllib.parse import parse_qs, unquote, urlsplit

import boto3
from botocore.config import Config

from sandbox.engine_limits import UnsupportedByLocalEngine, find_engine_gaps
from sandbox.event_sources import install_sqs_patch, uninstall_sqs_patch

REPO_ROOT = Path(__file__).resolve().parents[1]
SANDBOX_CACHE_DIR = REPO_ROOT / ".sandbox"

# The sandbox's own clients (deploy, polling, test setup) carry this in their User-Agent, so that
# request_counts() reports what the workflow did, not what the harness did around it.
HARNESS_USER_AGENT = "sandbox-harness"

FAKE_ACCESS_KEY_ID = "testing"
FAKE_SECRET_ACCESS_KEY = "testing"

_ACTIVE_LOCK = threading.Lock()
_ACTIVE: "Emulator | None" = None


class DeployError(RuntimeError):
    """The stack could not be deployed into the emulator."""

    def __init__(self, message: str, *, resource: str | None = None, reason: str | None = None) -> None:
        super().__init__(message)
        self.resource = resource
        self.reason = reason


# Loggers turned down while the emulator runs: the sandbox reports the same facts itself.
_QUIET_LOGGERS = {
    "werkzeug": logging.WARNING,  # every request, on stderr
    "moto.stepfunctions.parser": logging.CRITICAL,  # every state failure; they are in the history
}


class _SkippedResourceFilter(logging.Filter):
    """moto warns once per resource type its CloudFormation skips; DeployedStack.not_emulated reports them."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("No Moto CloudFormation support")


_SKIPPED_RESOURCE_FILTER = _SkippedResourceFilter()


@dataclass(frozen=True)
class DeployedStack:
    stack_name: str
    outputs: dict[str, str]
    resources: dict[str, str]  # logical id -> physical id
    resource_types: dict[str, str]  # logical id -> CloudFormation type
    state_machine_arns: dict[str, str]  # logical id -> ARN (re-registered so executions run)
    # logical id -> type of template resources moto's CloudFormation skipped (not emulated at all)
    not_emulated: dict[str, str] = field(default_factory=dict)


# --------------------------------------------------------------------------- request counting

_SIGNING_NAME_TO_SERVICE = {
    "states": "stepfunctions",
    "monitoring": "cloudwatch",
    "email": "ses",
    "execute-api": "apigateway",
    "scheduler": "scheduler",
}


def _s3_operation(method: str, path: str, query: dict[str, list[str]], headers: dict[str, str]) -> str | None:
    parts = [p for p in path.split("/") if p]
    if not parts:
        return "ListBuckets" if method == "GET" else None
    has_key = len(parts) > 1
    if has_key:
        if "uploadId" in query:
            if method == "PUT" and "x-amz-copy-source" in headers:
                return "UploadPartCopy"
            return {"PUT": "UploadPart", "POST": "CompleteMultipartUpload", "DELETE": "AbortMultipartUpload", "GET": "ListParts"}.get(method)
        if "uploads" in query and method == "POST":
            return "CreateMultipartUpload"
        if "tagging" in query:
            return {"GET": "GetObjectTagging", "PUT": "PutObjectTagging", "DELETE": "DeleteObjectTagging"}.get(method)
        if method == "PUT":
            return "CopyObject" if "x-amz-copy-source" in headers else "PutObject"
        return {"GET": "GetObject", "HEAD": "HeadObject", "DELETE": "DeleteObject"}.get(method)
    # bucket level
    if method == "GET" and query.get("list-type") == ["2"]:
        return "ListObjectsV2"
    if method == "POST" and "delete" in query:
        return "DeleteObjects"
    sub = next((k for k in query if k not in {"list-type", "prefix", "delimiter", "max-keys", "continuation-token",
                                              "start-after", "encoding-type", "marker", "fetch-owner", "x-id"}), None)
    if sub:
        verb = {"GET": "GetBucket", "PUT": "PutBucket", "DELETE": "DeleteBucket"}.get(method)
        if sub == "versions" and method == "GET":
            return "ListObjectVersions"
        if sub == "uploads" and method == "GET":
            return "ListMultipartUploads"
        return f"{verb}{sub[:1].upper()}{sub[1:]}" if verb else None
    return {"GET": "ListObjects", "HEAD": "HeadBucket", "PUT": "CreateBucket", "DELETE": "DeleteBucket"}.get(method)


_LAMBDA_ROUTES: list[tuple[str, str, str]] = [
    ("POST", r"^/2015-03-31/functions/[^/]+/invocations$", "Invoke"),
    ("POST", r"^/2014-11-13/functions/[^/]+/invoke-async/?$", "InvokeAsync"),
    ("GET", r"^/2015-03-31/functions/?$", "ListFunctions"),
    ("POST", r"^/2015-03-31/functions/?$", "CreateFunction"),
    ("GET", r"^/2015-03-31/functions/[^/]+/?$", "GetFunction"),
    ("DELETE", r"^/2015-03-31/functions/[^/]+/?$", "DeleteFunction"),
    ("GET", r"^/2015-03-31/functions/[^/]+/configuration/?$", "GetFunctionConfiguration"),
    ("PUT", r"^/2015-03-31/functions/[^/]+/configuration/?$", "UpdateFunctionConfiguration"),
    ("PUT", r"^/2015-03-31/functions/[^/]+/code/?$", "UpdateFunctionCode"),
    ("GET", r"^/2015-03-31/event-source-mappings/?$", "ListEventSourceMappings"),
]


def classify_request(environ: dict[str, Any]) -> tuple[str, str | None]:
    """Return (service, operation or None) for a WSGI request to the moto server."""
    path = environ.get("PATH_INFO", "") or "/"
    if path.startswith("/moto-api"):
        return "moto-api", None
    headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
    if "CONTENT_TYPE" in environ:
        headers["content-type"] = environ["CONTENT_TYPE"]
    service = "unknown"
    auth = headers.get("authorization", "")
    m = re.search(r"Credential=[^/]+/\d{8}/[^/]+/([^/]+)/aws4_request", auth)
    if m:
        service = _SIGNING_NAME_TO_SERVICE.get(m.group(1), m.group(1))
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    target = headers.get("x-amz-target")
    if target:
        return service, target.rsplit(".", 1)[-1]
    if "Action" in query:
        return service, query["Action"][0]
    if headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        body = environ.get("_sandbox_body", b"")
        form = parse_qs(body.decode("utf-8", "replace"))
        if "Action" in form:
            return service, form["Action"][0]
    method = environ.get("REQUEST_METHOD", "GET").upper()
    if service == "s3":
        return service, _s3_operation(method, unquote(path), query, headers)
    if service == "lambda":
        for verb, pattern, op in _LAMBDA_ROUTES:
            if verb == method and re.match(pattern, path):
                return service, op
    return service, None


class _CountingMiddleware:
    def __init__(self, app: Callable, counter: collections.Counter, lock: threading.Lock) -> None:
        self._app = app
        self._counter = counter
        self._lock = lock

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        if HARNESS_USER_AGENT in environ.get("HTTP_USER_AGENT", ""):
            return self._app(environ, start_response)
        try:
            if environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
                length = int(environ.get("CONTENT_LENGTH") or 0)
                body = environ["wsgi.input"].read(length) if length else b""
                environ["_sandbox_body"] = body
                environ["wsgi.input"] = io.BytesIO(body)
            service, operation = classify_request(environ)
            with self._lock:
                self._counter[service] += 1
                if operation:
                    self._counter[f"{service}:{operation}"] += 1
        except Exception:  # counting must never break a request
            pass
        return self._app(environ, start_response)


# --------------------------------------------------------------------------- assets


def deterministic_zip(directory: Path) -> bytes:
    """Zip a directory with sorted entries and fixed timestamps (same tree -> same bytes). The fastest deflate
    level: the zip only travels to the emulator, where a rebuilt handler's zip is on the way to its result."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for path in sorted(p for p in directory.rglob("*") if p.is_file()):
            rel = path.relative_to(directory).as_posix()
            info = zipfile.ZipInfo(rel, date_time=(1980, 1, 1, 0, 0, 0))
            mode = 0o755 if os.access(path, os.X_OK) else 0o644
            info.external_attr = (0o100000 | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, path.read_bytes())
    return buf.getvalue()


def _cached_zip(directory: Path, cache: Path) -> bytes:
    cached = cache / f"{directory.name}.zip"
    try:
        return cached.read_bytes()
    except FileNotFoundError:
        pass
    body = deterministic_zip(directory)
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=cache, prefix=f".{cached.name}-", delete=False) as tmp:
        tmp.write(body)
    Path(tmp.name).replace(cached)  # whole or absent: another process may read it now
    return body


def _cfn_to_api_logging(cfg: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "Level" in cfg:
        out["level"] = cfg["Level"]
    if "IncludeExecutionData" in cfg:
        out["includeExecutionData"] = bool(cfg["IncludeExecutionData"])
    dests = []
    for d in cfg.get("Destinations", []) or []:
        lg = (d.get("CloudWatchLogsLogGroup") or {}).get("LogGroupArn")
        if lg:
            dests.append({"cloudWatchLogsLogGroup": {"logGroupArn": lg}})
    if dests:
        out["destinations"] = dests
    return out


def substitute_definition(definition: str, substitutions: dict[str, Any] | None) -> str:
    """Replace ``${key}`` placeholders as CloudFormation's DefinitionSubstitutions does."""
    if not substitutions:
        return definition
    for key, value in substitutions.items():
        definition = definition.replace("${" + key + "}", str(value))
    return definition


# --------------------------------------------------------------------------- emulator


class Emulator:
    """moto as a ThreadedMotoServer on 127.0.0.1 (free port), in THIS process, so class patches apply."""

    def __init__(self, *, region: str = "us-east-1", account_id: str = "123456789012",
                 runtime_deps_dir: Path | None = None, lambda_extra_env: dict[str, str] | None = None) -> None:
        self.region = region
        self.account_id = account_id
        self.endpoint_url = ""
        self._server: Any = None
        self._counter: collections.Counter[str] = collections.Counter()
        self._counter_lock = threading.Lock()
        self._runtime_deps_dir = runtime_deps_dir
        self._lambda_extra_env = dict(lambda_extra_env or {})
        self._saved_env: dict[str, str | None] = {}
        self._saved_sfn_config: Any = None
        self._saved_log_levels: dict[str, int] = {}
        self.lambda_runtime: Any = None  # LocalLambdaRuntime once started
        self._clients: dict[tuple[str, str], Any] = {}
        self._clients_lock = threading.Lock()
        self._engine_extensions: Any = None  # ExitStack undoing sandbox.engine's patches

    # -- lifecycle ---------------------------------------------------------
    def __enter__(self) -> "Emulator":
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def start(self) -> None:
        global _ACTIVE
        from moto.core.config import default_user_config
        from moto.moto_server.threaded_moto_server import ThreadedMotoServer
        from moto.moto_server.werkzeug_app import (DomainDispatcherApplication, MotoRequestHandler,
                                                   create_backend_app)
        from werkzeug.serving import make_server

        from .lambda_runtime import LocalLambdaRuntime, ensure_runtime_deps

        with _ACTIVE_LOCK:
            if _ACTIVE is not None:
                raise RuntimeError("another Emulator is already running in this process (moto state is global)")
            _ACTIVE = self

        counter, lock = self._counter, self._counter_lock
        logging.getLogger("moto").addFilter(_SKIPPED_RESOURCE_FILTER)
        warnings.filterwarnings("ignore", message=r"Tried to parse AWS::\S+ but it's not supported", category=UserWarning)
        self._saved_log_levels = {}
        for name, level in _QUIET_LOGGERS.items():
            self._saved_log_levels[name] = logging.getLogger(name).level
            logging.getLogger(name).setLevel(level)

        class _Server(ThreadedMotoServer):
            def _server_entry(self_inner) -> None:  # noqa: N805 - mirrors ThreadedMotoServer
                app = _CountingMiddleware(DomainDispatcherApplication(create_backend_app), counter, lock)
                self_inner._server = make_server(self_inner._ip_address, self_inner._port, app, True,
                                                 request_handler=MotoRequestHandler)
                self_inner._server_ready_event.set()
                self_inner._server.serve_forever(poll_interval=0.05)  # stop() then waits 50 ms, not 500

        try:
            from sandbox.engine import install_extensions

            self._engine_extensions = install_extensions()
            self._server = _Server(ip_address="127.0.0.1", port=0, verbose=False)
            self._server.start()
            host, port = self._server.get_host_and_port()
            self.endpoint_url = f"http://127.0.0.1:{port}"

            # moto's Step Functions interpreter calls other services through
            # http://localhost:$MOTO_PORT (moto.settings.moto_server_port), so point it at us.
            env = {"MOTO_PORT": str(port), "AWS_ACCESS_KEY_ID": FAKE_ACCESS_KEY_ID,
                   "AWS_SECRET_ACCESS_KEY": FAKE_SECRET_ACCESS_KEY}
            for k, v in env.items():
                self._saved_env[k] = os.environ.get(k)
                os.environ[k] = v

            # Executions run only in the parser backend: enable it (server-mode equivalent of
            # mock_aws(config={"stepfunctions": {"execute_state_machine": True}})).
            self._saved_sfn_config = dict(default_user_config.get("stepfunctions", {}))
            import requests
            r = requests.post(f"{self.endpoint_url}/moto-api/config",
                              json={"stepfunctions": {"execute_state_machine": True}}, timeout=10)
            r.raise_for_status()
            if not default_user_config.get("stepfunctions", {}).get("execute_state_machine"):
                raise RuntimeError("could not enable moto's Step Functions execution")

            deps = self._runtime_deps_dir or ensure_runtime_deps(SANDBOX_CACHE_DIR / "runtime-deps")
            self.lambda_runtime = LocalLambdaRuntime(endpoint_url=self.endpoint_url, region=self.region,
                                                     runtime_deps_dir=deps, extra_env=self._lambda_extra_env)
            self.lambda_runtime.install()
            # SQS event sources are polled by sandbox.event_sources, as Lambda does, not run inside SendMessage.
            install_sqs_patch()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        global _ACTIVE
        from moto.core.config import default_user_config

        uninstall_sqs_patch()
        if self.lambda_runtime is not None:
            self.lambda_runtime.uninstall()
            self.lambda_runtime.stop_all()
        if self._server is not None and self.endpoint_url:
            try:
                import requests
                requests.post(f"{self.endpoint_url}/moto-api/reset", timeout=10)
            except Exception:
                pass
        if self._server is not None:
            try:
                self._server.stop()
            except Exception:
                pass
            self._server = None
        if self._engine_extensions is not None:
            self._engine_extensions.close()
            self._engine_extensions = None
        logging.getLogger("moto").removeFilter(_SKIPPED_RESOURCE_FILTER)
        for name, level in (self._saved_log_levels or {}).items():
            logging.getLogger(name).setLevel(level)
        self._saved_log_levels = {}
        if self._saved_sfn_config is not None:
            default_user_config["stepfunctions"] = self._saved_sfn_config
            self._saved_sfn_config = None
        for k, v in self._saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        self._saved_env.clear()
        self._clients.clear()
        with _ACTIVE_LOCK:
            if _ACTIVE is self:
                _ACTIVE = None

    # -- clients & counters -------------------------------------------------
    def client(self, service: str) -> Any:
        """The harness's client for `service` (one per service and emulator: botocore clients are thread-safe,
        and making one costs tens of milliseconds)."""
        key = (service, self.endpoint_url)
        with self._clients_lock:
            if key not in self._clients:
                self._clients[key] = boto3.client(
                    service, endpoint_url=self.endpoint_url, region_name=self.region,
                    aws_access_key_id=FAKE_ACCESS_KEY_ID, aws_secret_access_key=FAKE_SECRET_ACCESS_KEY,
                    config=Config(retries={"max_attempts": 1, "mode": "standard"}, read_timeout=900,
                                  user_agent_extra=HARNESS_USER_AGENT),
                )
            return self._clients[key]

    def request_counts(self) -> collections.Counter[str]:
        """Requests made by the workflow (its handlers and the Step Functions engine), by
        service and by "service:Operation"; calls through `client()` are not counted."""
        with self._counter_lock:
            return collections.Counter(self._counter)

    def reset_request_counts(self) -> None:
        with self._counter_lock:
            self._counter.clear()

    # -- deploy ---------------------------------------------------------------
    def upload_assets(self, assets_manifest_path: Path, *, zip_cache: Path | None = None) -> list[tuple[str, str]]:
        """Upload every file asset of a CDK asset manifest; returns [(bucket, key)].

        zip_cache: a folder keeping each zipped asset folder under its name (CDK names them by content),
        so an unchanged asset is zipped once.
        """
        manifest = json.loads(Path(assets_manifest_path).read_text())
        base = Path(assets_manifest_path).parent
        s3 = self.client("s3")
        existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
        uploaded = []
        for asset_id, asset in (manifest.get("files") or {}).items():
            source = asset.get("source", {})
            if "path" not in source:
                raise DeployError(f"asset {asset_id} has no source.path (executable assets are not supported)")
            src = base / source["path"]
            packaging = source.get("packaging", "file")
            if packaging == "zip" and src.is_dir():
                body = _cached_zip(src, zip_cache) if zip_cache is not None else deterministic_zip(src)
            elif src.is_file():
                body = src.read_bytes()
            else:
                raise DeployError(f"asset {asset_id}: source {src} not found")
            for dest in (asset.get("destinations") or {}).values():
                bucket = self._fill(dest["bucketName"])
                key = self._fill(dest["objectKey"])
                if bucket not in existing:
                    s3.create_bucket(Bucket=bucket, **({} if self.region == "us-east-1" else {
                        "CreateBucketConfiguration": {"LocationConstraint": self.region}}))
                    existing.add(bucket)
                s3.put_object(Bucket=bucket, Key=key, Body=body)
                uploaded.append((bucket, key))
        return uploaded

    def _fill(self, value: str) -> str:
        return (value.replace("${AWS::AccountId}", self.account_id)
                .replace("${AWS::Region}", self.region)
                .replace("${AWS::Partition}", "aws")
                .replace("${AWS::URLSuffix}", "amazonaws.com"))

    @staticmethod
    def prepare_template(template: dict[str, Any]) -> dict[str, Any]:
        """Drop the CDK bootstrap version check (no bootstrap stack in the emulator) and
        adapt what moto's CloudFormation misreads (each case names the moto gap)."""
        template = json.loads(json.dumps(template))
        for logical_id, resource in (template.get("Resources") or {}).items():
            props = resource.get("Properties") or {}
            # moto gap: a FIFO queue without QueueName gets a generated name lacking ".fifo", which moto
            # then refuses; CloudFormation generates one ending in ".fifo".
            if resource.get("Type") == "AWS::SQS::Queue" and props.get("FifoQueue") and "QueueName" not in props:
                props["QueueName"] = f"{logical_id[:75]}.fifo"
            # moto gap: AWS::KMS::Key reads Tags as TagKey/TagValue (KMS API shape), not Key/Value.
            if resource.get("Type") == "AWS::KMS::Key" and props.get("Tags"):
                props["Tags"] = [{"TagKey": t["Key"], "TagValue": t["Value"]} for t in props["Tags"]]
        params = template.get("Parameters") or {}
        params.pop("BootstrapVersion", None)
        if not params:
            template.pop("Parameters", None)
        rules = template.get("Rules") or {}
        rules.pop("CheckBootstrapVersion", None)
        if not rules:
            template.pop("Rules", None)
        return template

    def deploy(self, *, stack_name: str, template_path: Path, assets_manifest_path: Path,
               parameters: dict[str, str] | None = None, zip_cache: Path | None = None) -> DeployedStack:
        from botocore.exceptions import ClientError

        self.upload_assets(assets_manifest_path, zip_cache=zip_cache)
        template = self.prepare_template(json.loads(Path(template_path).read_text()))
        cfn = self.client("cloudformation")
        try:
            cfn.create_stack(
                StackName=stack_name, TemplateBody=json.dumps(template),
                Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in (parameters or {}).items()],
                Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
            )
        except ClientError as exc:
            raise DeployError(f"create_stack {stack_name} failed: {exc}", reason=str(exc)) from exc

        deadline = time.monotonic() + 300
        while True:
            stack = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
            status = stack["StackStatus"]
            if status == "CREATE_COMPLETE":
                break
            if not status.endswith("_IN_PROGRESS") or time.monotonic() > deadline:
                resource, reason = None, stack.get("StackStatusReason")
                for ev in cfn.describe_stack_events(StackName=stack_name).get("StackEvents", []):
                    if ev.get("ResourceStatus", "").endswith("FAILED") and ev.get("LogicalResourceId") != stack_name:
                        resource, reason = ev.get("LogicalResourceId"), ev.get("ResourceStatusReason")
                        break
                raise DeployError(f"stack {stack_name} ended in {status}: resource {resource}: {reason}",
                                  resource=resource, reason=reason)
            time.sleep(0.05)

        outputs = {o["OutputKey"]: o.get("OutputValue", "") for o in stack.get("Outputs", []) or []}
        resources: dict[str, str] = {}
        types: dict[str, str] = {}
        for r in cfn.describe_stack_resources(StackName=stack_name)["StackResources"]:
            if "LogicalResourceId" not in r:  # a type moto's CloudFormation has no model for
                continue
            resources[r["LogicalResourceId"]] = r.get("PhysicalResourceId", "")
            types[r["LogicalResourceId"]] = r["ResourceType"]
        not_emulated = {
            logical_id: resource["Type"]
            for logical_id, resource in template["Resources"].items()
            if logical_id not in resources and not resource["Type"].startswith("AWS::CDK::")
        }

        # moto creates a function with empty code when its S3 object is missing: fail here instead.
        lam = self.client("lambda")
        for logical_id, typ in types.items():
            if typ != "AWS::Lambda::Function":
                continue
            cfg = lam.get_function(FunctionName=resources[logical_id])["Configuration"]
            if cfg.get("PackageType", "Zip") == "Zip" and not cfg.get("CodeSize"):
                code = (template["Resources"][logical_id].get("Properties") or {}).get("Code")
                raise DeployError(f"stack {stack_name}: resource {logical_id}: the function's code was not found "
                                  f"(Code={json.dumps(code)}); is the asset in the manifest?",
                                  resource=logical_id, reason="code object not found")

        sm_arns = {}
        for logical_id, typ in types.items():
            if typ == "AWS::StepFunctions::StateMachine":
                sm_arns[logical_id] = self._reregister_state_machine(stack_name, logical_id, resources[logical_id],
                                                                     template["Resources"][logical_id])
        return DeployedStack(stack_name=stack_name, outputs=outputs, resources=resources,
                             resource_types=types, state_machine_arns=sm_arns, not_emulated=not_emulated)

    def _stack_resource_map(self, stack_name: str) -> Any:
        from moto.cloudformation.models import cloudformation_backends
        backend = cloudformation_backends[self.account_id][self.region]
        for stack in reversed(list(backend.stacks.values())):
            if stack.name == stack_name:
                return stack.resource_map
        raise DeployError(f"stack {stack_name} not found in moto")

    def _reregister_state_machine(self, stack_name: str, logical_id: str, arn: str,
                                  resource_json: dict[str, Any]) -> str:
        """Copy a CloudFormation-made state machine into moto's executing (parser) backend."""
        from moto.cloudformation.parsing import clean_json
        from moto.stepfunctions.models import stepfunctions_backends

        plain = stepfunctions_backends[self.account_id][self.region]
        try:
            sm = plain.describe_state_machine(arn)
        except Exception as exc:
            raise DeployError(f"state machine {logical_id} ({arn}) not found after deploy", resource=logical_id) from exc
        resource_map = self._stack_resource_map(stack_name)
        props = resource_json.get("Properties", {}) or {}

        definition = sm.definition
        if "Definition" in props:  # object form: moto ignores it
            definition = json.dumps(clean_json(props["Definition"], resource_map))
        elif "DefinitionS3Location" in props and not definition:
            loc = clean_json(props["DefinitionS3Location"], resource_map)
            definition = self.client("s3").get_object(Bucket=loc["Bucket"], Key=loc["Key"])["Body"].read().decode()
        if "DefinitionSubstitutions" in props:  # moto ignores DefinitionSubstitutions
            definition = substitute_definition(definition, clean_json(props["DefinitionSubstitutions"], resource_map))
        try:
            parsed_definition = json.loads(definition)
        except ValueError as exc:
            raise DeployError(f"state machine {logical_id}: resolved definition is not JSON: {exc}",
                              resource=logical_id, reason=str(exc)) from exc
        # moto refuses some of these already at CreateStateMachine: name them before it does.
        blocking = tuple(gap for gap in find_engine_gaps(parsed_definition) if gap.blocking)
        if blocking:
            raise UnsupportedByLocalEngine(blocking, state_machine=sm.name)

        kwargs: dict[str, Any] = {"name": sm.name, "definition": definition, "roleArn": sm.roleArn,
                                  "type": props.get("StateMachineType", "STANDARD")}
        if props.get("LoggingConfiguration"):
            kwargs["loggingConfiguration"] = _cfn_to_api_logging(clean_json(props["LoggingConfiguration"], resource_map))
        if props.get("TracingConfiguration"):
            kwargs["tracingConfiguration"] = {"enabled": bool(clean_json(props["TracingConfiguration"], resource_map).get("Enabled"))}

        sfn = self.client("stepfunctions")
        try:
            sfn.delete_state_machine(stateMachineArn=arn)  # parser backend: a re-deploy with the same name
        except Exception:
            pass
        try:
            new_arn = sfn.create_state_machine(**kwargs)["stateMachineArn"]
        except Exception as exc:
            raise DeployError(f"state machine {logical_id}: moto refused it: {exc}", resource=logical_id, reason=str(exc)) from exc
        if new_arn != arn:
            raise DeployError(f"re-registered {logical_id} as {new_arn}, expected {arn}", resource=logical_id)
        return new_arn
