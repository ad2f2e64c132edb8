"""The main navigation: one entry per top-level page, in display order."""

from __future__ import annotations

import msgspec


class NavItem(msgspec.Struct, frozen=True):
    """A link in the top navigation."""

    label: str
    path: str


#: In this order: Dashboard, Discover, Leads, Sequences, Outbox, Replies, Settings. A page
#: adds its entry in its place; jobs are reached from the dashboard.
NAVIGATION: tuple[NavItem, ...] = (
    NavItem("Dashboard", "/"),
    NavItem("Discover", "/discover"),
    NavItem("Leads", "/leads"),
    NavItem("Sequences", "/sequences"),
    NavItem("Outbox", "/outbox"),
    NavItem("Replies", "/replies"),
    NavItem("Settings", "/settings"),
)
