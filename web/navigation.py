"""The main navigation: one entry per top-level page, in display order."""

from __future__ import annotations

import msgspec


class NavItem(msgspec.Struct, frozen=True):
    """A link in the top navigation."""

    label: str
    path: str


NAVIGATION: tuple[NavItem, ...] = (
    NavItem("Dashboard", "/"),
    NavItem("Discover", "/discover"),
    NavItem("Leads", "/leads"),
    NavItem("Jobs", "/jobs"),
)
