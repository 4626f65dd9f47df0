"""Runtime exceptions of a broken or mis-deployed tool (agent/knowledge/runtimes.yaml)."""

from __future__ import annotations

import pytest

from agent.explain.knowledge import Knowledge
from agent.explain.rank import explain
from tests.explain.expect import cause_first, unrelated_kind


@pytest.mark.parametrize("text", [
    "Connect-PnPOnline : Unable to find an entry point named 'GetPerAdapterInfo' in DLL 'iphlpapi.dll'.\n"
    "Exception : System.EntryPointNotFoundException: Unable to find an entry point",
    "Connect-PnPOnline : Method not found: 'Void Microsoft.Identity.Client.X()'. "
    "(System.MissingMethodException)",
    "Could not load file or assembly 'Microsoft.Identity.Client, Version=4.50.0.0, Culture=neutral' or one "
    "of its dependencies.",
    "System.NullReferenceException: Object reference not set to an instance of an object.",
    "Traceback (most recent call last):\nModuleNotFoundError: No module named 'office365'",
    "AttributeError: 'ClientContext' object has no attribute 'with_client_certificate'",
    "Exception in thread \"main\" java.lang.NoSuchMethodError: 'void org.apache.http.X.<init>()'",
    # PowerShell's own runtime messages (ParserStrings.resx: MethodNotFound, InvokeMethodOnNull)
    "Method invocation failed because "
    "[Microsoft.IdentityModel.Clients.ActiveDirectory.AuthenticationContext] does not contain a method "
    "named 'AcquireToken'.\n    + FullyQualifiedErrorId : MethodNotFound",
    "You cannot call a method on a null-valued expression.",
    # asyncio's and asgiref's RuntimeErrors, as CPython's Lib/asyncio and asgiref/sync.py raise them
    "RuntimeError: Event loop is closed",
    "RuntimeError: This event loop is already running",
    "RuntimeError: asyncio.run() cannot be called from a running event loop",
    "RuntimeError: There is no current event loop in thread 'ThreadPoolExecutor-0_0'.",
    "RuntimeError: Task <Task pending name='Task-2'> got Future <Future pending> attached to a different "
    "loop",
    "RuntimeWarning: coroutine 'UsersRequestBuilder.get' was never awaited",
    "RuntimeError: You cannot use AsyncToSync in the same thread as an async event loop - just await the "
    "async function directly.",
])
def test_a_broken_tool_is_not_a_connector_cause(shipped: Knowledge, text: str) -> None:
    unrelated_kind(explain(text, shipped), "tool-bug")


@pytest.mark.parametrize("text, cause", [
    ("AttributeError: 'NoneType' object has no attribute 'get'\nAADSTS50126: Error validating credentials "
     "due to invalid username or password.", "bad-credentials"),
    ("System.NullReferenceException after AADSTS7000229: The client application 1111 is missing service "
     "principal in the tenant 2222.", "app-not-installed"),
    ("azure.core.exceptions.ClientAuthenticationError: AADSTS7000215: Invalid client secret provided.\n"
     "Exception ignored in: <function _ProactorBasePipeTransport.__del__>\n"
     "RuntimeError: Event loop is closed",
     "app-credentials-invalid"),
])
def test_the_refusal_decides_over_a_crash_after_it(shipped: Knowledge, text: str, cause: str) -> None:
    cause_first(explain(text, shipped), cause)


def test_a_missing_service_principal_is_an_app_not_installed(shipped: Knowledge) -> None:
    text = ("invalid_client: AADSTS7000229: The client application 1111 is missing service principal in the "
            "tenant 2222. See instructions here: https://go.microsoft.com/fwlink/?linkid=2225119")
    cause_first(explain(text, shipped), "app-not-installed")


def test_node_s_fetch_failure_is_the_network_not_a_type_error_of_the_tool(shipped: Knowledge) -> None:
    """undici wraps every network error in a TypeError "fetch failed"; the runtimes' list leaves TypeError
    out for this reason (and because a tool's TypeError often follows a refused token request)."""
    unrelated_kind(explain("TypeError: fetch failed", shipped), "network-timeout")
    text = "TypeError: fetch failed\n  [cause]: Error: getaddrinfo ENOTFOUND login.microsoftonline.com"
    unrelated_kind(explain(text, shipped), "dns")


def test_a_method_missing_in_powershell_yields_to_the_refusal_beside_it(shipped: Knowledge) -> None:
    text = ("Method invocation failed because [System.Object[]] does not contain a method named "
            "'op_Addition'.\nAADSTS50076: Due to a configuration change made by your administrator, or "
            "because you moved to a new location, you must use multi-factor authentication to access "
            "'00000002-0000-0ff1-ce00'.")
    cause_first(explain(text, shipped), "mfa-blocks-service-account")
