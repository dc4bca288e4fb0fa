"""parallel-search's outside world: two search APIs, each with its API key in Secrets Manager."""

from __future__ import annotations

import hashlib
import json
import secrets
from contextlib import ExitStack
from typing import Any, Mapping

from sandbox.emulator import DeployedStack, Emulator
from sandbox.faults import CRASH, ERRORING, GARBAGE, THROTTLED, TIMING_OUT, Fault, FaultMatrix, Notice
from sandbox.scenarios.base import (
    LAMBDA_STANDIN,
    ScenarioError,
    function_environments,
    local_endpoint,
    put_secret,
    set_function_environment,
)
from sandbox.standins.search_api import SearchApiBehaviour, SearchApiStandIn

# Stand-in name -> settings type: the names are the `local` stage's API names (cdk.json).
STANDIN_SETTINGS = {"shop-a": SearchApiBehaviour, "shop-b": SearchApiBehaviour}
SAMPLE_INPUT = {"keywords": "wireless earbuds"}  # what `sandbox run` sends without --input


def headline(output: Any) -> str:
    """The demo table's line for a successful run: how many results each API gave and how many were left after merging."""
    sources = output.get("sources") or {}
    found = " + ".join(f"{count} {source}" for source, count in sources.items()) or "none"
    where = (output.get("result") or {}).get("kind", "")
    return f"{output.get('item_count')} items merged from {found}" + (f" ({where})" if where else "")


class ParallelSearchScenario:
    """A random API key per API in Secrets Manager (under the secret name the function is configured
    with) and a stand-in server per API on a free port, checking that key; each search function
    is pointed at its stand-in's real address."""

    def __init__(self, emulator: Emulator, stack: DeployedStack) -> None:
        self._emulator = emulator
        self._stack = stack
        self._exit = ExitStack()
        self.standins: dict[str, SearchApiStandIn] = {}

    def __enter__(self) -> "ParallelSearchScenario":
        try:
            for function_name, env in function_environments(self._emulator, self._stack).items():
                if "SEARCH_API_NAME" not in env:
                    continue
                api_key = secrets.token_urlsafe(24)
                put_secret(self._emulator, env["SEARCH_API_KEY_SECRET_NAME"], api_key)
                standin = self._exit.enter_context(SearchApiStandIn(shop=env["SEARCH_API_NAME"], api_key=api_key))
                endpoint = local_endpoint(env["SEARCH_API_ENDPOINT"], port=standin.port, setting=f"{standin.shop}.endpoint")
                set_function_environment(self._emulator, function_name, {"SEARCH_API_ENDPOINT": endpoint})
                self.standins[standin.shop] = standin
            if set(self.standins) != set(STANDIN_SETTINGS):
                raise ScenarioError(f"expected search functions for {', '.join(STANDIN_SETTINGS)} in {self._stack.stack_name}, "
                                    f"found {', '.join(self.standins) or 'none'}")
        except BaseException:
            self._exit.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._exit.close()

    def configure(self, settings: Mapping[str, Any]) -> None:
        for shop, standin in self.standins.items():
            standin.configure(settings.get(shop, SearchApiBehaviour()))

    def stats(self) -> dict[str, Any]:
        return {"api_requests": {shop: len(standin.requests) for shop, standin in self.standins.items()}}

    # -- the fault matrix's questions (sandbox.faults) -------------------------------------------
    def merged_items(self, output: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The merged items a run returned, read as a consumer reads them: inline, or from S3 once its
        size and sha256 match the reference (ValueError when they do not)."""
        envelope = output["result"]
        if envelope["kind"] == "inline":
            return envelope["body"]["items"]
        body = self._emulator.client("s3").get_object(Bucket=envelope["bucket"], Key=envelope["key"])["Body"].read()
        if len(body) != envelope["size"] or hashlib.sha256(body).hexdigest() != envelope["sha256"]:
            raise ValueError(f"s3://{envelope['bucket']}/{envelope['key']} does not match its reference")
        return json.loads(body)["items"]

    def nothing_lost(self, report: Any) -> list[str]:
        """A successful run's result can be read back whole (the claim check holds); a failed run has none."""
        if report.status != "SUCCEEDED":
            return []
        try:
            self.merged_items(report.output)
        except Exception as exc:  # noqa: BLE001 - any way the result cannot be read is a loss
            return [f"the merged result cannot be read back: {type(exc).__name__}: {exc}"]
        return []

    def end_state(self, report: Any) -> Any:
        """The merged items of a successful run (the stand-ins answer the same keywords the same way)."""
        return self.merged_items(report.output)


SCENARIO = ParallelSearchScenario  # what the sandbox starts around a deployed stack of this workflow


_SHOPS = ("shop-a", "shop-b")
_BOTH = "search-apis"  # both shops at once: their branches retry side by side, in the time of one


def _both(**settings: str) -> dict[str, dict[str, str]]:
    return {shop: {**settings, "fail_times": "1"} for shop in _SHOPS}


def _each_retried(error: str) -> dict[str, dict[str, int]]:
    return {f"Search {shop}": {error: 1} for shop in _SHOPS}


_TWO_REQUESTS_EACH = {"api_requests": {shop: 2 for shop in _SHOPS}}
FAULTS = FaultMatrix(
    # results over the 64 KiB inline threshold: every run's answer travels through S3 by reference (the claim check)
    base_standins={"*": {"result_bytes": "70000"}},
    faults=(
        Fault(_BOTH, THROTTLED, _both(fail_mode="429"), retries=_each_retried("SearchApiThrottled"), observed=_TWO_REQUESTS_EACH),
        Fault(_BOTH, ERRORING, _both(fail_mode="5xx"), retries=_each_retried("SearchApiUnavailable"), observed=_TWO_REQUESTS_EACH),
        # answers 0.5 s after the local stage's 3 s HTTP timeout
        Fault(_BOTH, TIMING_OUT, _both(fail_mode="slow", slow_seconds="3.5"), retries=_each_retried("SearchApiTimeout"),
              observed=_TWO_REQUESTS_EACH),
        # an HTML page is not retried: the run fails by name after one request (one shop: the first error would win)
        Fault(_BOTH, GARBAGE, {"shop-b": {"fail_mode": "non-json", "fail_times": "1"}}, error="SearchApiBadResponse",
              notice=Notice("SearchApiBadResponse", "shop-b: response is not JSON"), observed={"api_requests.shop-b": 1}),
        # a search function's worker dies during its call: not retried (a crash is not a Lambda service error)
        Fault(_BOTH, CRASH, {LAMBDA_STANDIN: {"function": "SearchAFunction"}}, error="Runtime.ExitError",
              notice=Notice("Runtime.ExitError", "signal: killed"), observed={"lambda_crashes": 1}),
    ),
)
