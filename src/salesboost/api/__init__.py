"""The HTTP service: REST routes, a WebSocket of status events, /metrics, health checks, the dashboard."""

from salesboost.api.app import create_app

__all__ = ["create_app"]
