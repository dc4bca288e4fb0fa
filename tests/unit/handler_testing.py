"""What every workflow's handler tests share: the Lambda asset root on sys.path, Powertools settings,
JSON event fixtures, a fake Lambda context, and moto in-process with fake credentials."""

from __future__ import annotations

import json
import os
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from moto import mock_aws


def use_lambda_asset(source: Path, *, service: str, **environment: str) -> None:
    """Import handlers as Lambda does: the asset root on sys.path, Powertools settings set before import."""
    sys.path.insert(0, str(source))
    os.environ.update(POWERTOOLS_TRACE_DISABLED="true", POWERTOOLS_SERVICE_NAME=service,
                      POWERTOOLS_METRICS_NAMESPACE="Test", **environment)


def event_loader(directory: Path) -> Callable[[str], dict[str, Any]]:
    """`load_event(name)` reads `<directory>/<name>.json`."""

    def load_event(name: str) -> dict[str, Any]:
        return json.loads((directory / f"{name}.json").read_text())

    return load_event


@dataclass
class FakeLambdaContext:
    """The attributes Powertools and our handlers read from Lambda's context object."""

    function_name: str = "handler-test"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:handler-test"
    aws_request_id: str = "52fdfc07-2182-154f-163f-5f0f9a621d72"
    log_group_name: str = "/aws/lambda/handler-test"
    log_stream_name: str = "2026/11/23/[$LATEST]test"
    function_version: str = "$LATEST"
    remaining_ms: int = 30_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@contextmanager
def moto_aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """moto in-process with fake credentials, no endpoint override, and Powertools' parameter cache cleared."""
    for key, value in {"AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    from aws_lambda_powertools.utilities import parameters

    parameters.clear_caches()
    with mock_aws():
        yield
