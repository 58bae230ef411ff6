"""The operator console (web) and the hub's HTTP endpoints (``/inbound/{agency}``, ``/metrics``)."""

from hub.console.app import create_app
from hub.console.server import server_config, tls_options

__all__ = ["create_app", "server_config", "tls_options"]
