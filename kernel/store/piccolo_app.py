"""The Piccolo app that owns outreach's tables and their migrations."""

from __future__ import annotations

import os

from piccolo.conf.apps import AppConfig

from .tables import ALL_TABLES

APP_CONFIG = AppConfig(
    app_name="outreach",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "migrations"),
    table_classes=list(ALL_TABLES),
    migration_dependencies=[],
    commands=[],
)
