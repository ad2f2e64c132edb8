"""outreach's front ends over the kernel: the Litestar browser app and the command line."""

from __future__ import annotations

from .app import create_app

__all__ = ["create_app"]
