"""Piccolo's configuration module, used by its migration machinery and its CLI.

``DB`` starts as an engine on ``OUTREACH_DB`` (or a file in the current
directory, for `piccolo migrations new`); :func:`outreach.kernel.store.engine.bind`
replaces it with the engine of the running app, since Piccolo reads ``DB`` from
this module each time it needs it.
"""

from __future__ import annotations

import os

from piccolo.conf.apps import AppRegistry
from piccolo.engine.sqlite import SQLiteEngine

DB = SQLiteEngine(path=os.environ.get("OUTREACH_DB", "outreach-dev.sqlite"))

APP_REGISTRY = AppRegistry(apps=["outreach.kernel.store.piccolo_app"])
