"""parallel-search's outside world: two search APIs, each with its API key in Secrets Manager."""

from __future__ import annotations

import secrets
from contextlib import ExitStack
from typing import Any, Mapping

from sandbox.emulator import DeployedStack, Emulator
from sandbox.scenarios.base import ScenarioError, function_environments, local_endpoint, put_secret, set_function_environment
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


SCENARIO = ParallelSearchScenario  # what the sandbox starts around a deployed stack of this workflow
