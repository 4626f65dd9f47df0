"""One verifying TLS context per CA file for every requests session the agent hands a client library.

requests passes `verify` to urllib3 as a CA *path*; urllib3 then builds a new SSLContext and loads the
whole bundle into it for each new connection, about 20 ms of CPU per connection with certifi's roots
(more with the tenant's extra CAs on top). exchangelib, office365 and azure-core (msal's transport) open
dozens of connections a run. This adapter gives urllib3 a context already loaded with exactly that file
(agent.trust.ca.file_context) and no path to load again: the same trust, the same hostname check.

Only verifying https requests without a client certificate take this path; `verify=False`, a CA
directory, a client certificate or an https:// proxy (whose own TLS urllib3 verifies by path) go through
requests as before.
"""

from __future__ import annotations

from typing import Any

import requests
from requests.utils import DEFAULT_CA_BUNDLE_PATH

from agent.trust.ca import file_context


def ca_file(url: str, verify: Any, cert: Any) -> str | None:
    """The CA file a shared context can stand in for: a verifying https request's bundle (requests'
    default, certifi's, for `verify=True`), or None when requests must handle the request itself."""
    if not verify or cert or url[:6].lower() != "https:":
        return None
    path = DEFAULT_CA_BUNDLE_PATH if verify is True else verify
    return path if isinstance(path, str) else None


class SharedContextAdapter(requests.adapters.HTTPAdapter):
    """requests' HTTPAdapter whose verifying https pools share one loaded SSLContext per CA file.

    Both hooks are requests' documented ones for a custom context: the pool key gets `ssl_context`
    instead of `ca_certs`, and cert_verify leaves the pool without a path, so urllib3 never reloads it.
    """

    def build_connection_pool_key_attributes(self, request: Any, verify: Any,
                                             cert: Any = None) -> tuple[dict[str, Any], dict[str, Any]]:
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
        path = ca_file(str(request.url), verify, cert)
        if path is not None:
            try:
                context = file_context(path)
            except OSError:  # missing, or a directory: requests goes on as it would (and says so)
                return host_params, pool_kwargs
            pool_kwargs.pop("ca_certs", None)
            pool_kwargs["ssl_context"] = context
        return host_params, pool_kwargs

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        proxy = getattr(conn, "proxy", None)
        if (ca_file(url, verify, cert) is None or getattr(conn, "conn_kw", {}).get("ssl_context") is None
                or (proxy is not None and proxy.scheme == "https")):  # the proxy's own TLS needs the path
            super().cert_verify(conn, url, verify, cert)
            return
        conn.cert_reqs = "CERT_REQUIRED"
        conn.ca_certs = None  # the pool's context holds this file's CAs already
        conn.ca_cert_dir = None
