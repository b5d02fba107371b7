"""Web map and read-only HTTP API: ``create_app(store_path)``, ``serve(store_path)``."""

from .app import create_app, serve

__all__ = ["create_app", "serve"]
