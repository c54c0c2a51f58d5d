"""Small HTTP(S) GETs against the control plane, with the standard library only."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any


class Probe:
    """GETs `path` on one server; with a client certificate for the API server, without for the others."""

    def __init__(
        self, base_url: str, *, ca_cert: Path | None = None,
        client_cert: Path | None = None, client_key: Path | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._context: ssl.SSLContext | None = None
        if base_url.startswith("https://"):
            if ca_cert is None:
                # The controller manager serves its health endpoint with a self-signed cert.
                context = ssl.create_default_context()
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            else:
                context = ssl.create_default_context(cafile=str(ca_cert))
            if client_cert and client_key:
                context.load_cert_chain(str(client_cert), str(client_key))
            self._context = context

    def get(self, path: str, timeout: float = 2.0) -> tuple[int, str]:
        """(status, body); status 0 when nothing answered."""
        try:
            with urllib.request.urlopen(self.base_url + path, timeout=timeout, context=self._context) as response:
                return response.status, response.read().decode(errors="replace")
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode(errors="replace")
        except (urllib.error.URLError, ConnectionError, TimeoutError, ssl.SSLError, OSError):
            return 0, ""

    def request(
        self, method: str, path: str, body: Any, timeout: float = 5.0, content_type: str = "application/json",
    ) -> tuple[int, str]:
        """(status, body) of a JSON request (creating or patching objects as the admin)."""
        request = urllib.request.Request(
            self.base_url + path, data=json.dumps(body).encode(), method=method,
            headers={"Content-Type": content_type, "Accept": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout, context=self._context) as response:
                return response.status, response.read().decode(errors="replace")
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode(errors="replace")
        except (urllib.error.URLError, ConnectionError, TimeoutError, ssl.SSLError, OSError) as error:
            return 0, str(error)

    def ok(self, path: str) -> bool:
        return self.get(path)[0] == 200

    def json(self, path: str) -> Any:
        status, body = self.get(path)
        return json.loads(body) if status == 200 else None
