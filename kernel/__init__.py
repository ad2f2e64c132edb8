"""outreach's kernel: the hook specifications, domain types and services.

This module is the public API for plugins. A plugin imports only from here::

    from outreach.kernel import hookimpl, DiscoveredBusiness, Sender

Everything else under ``outreach.kernel`` (the store, the services) is internal
and may change without notice.
"""

from __future__ import annotations

from .config import decode_section
from .context import PluginContext
from .contracts import (
    ComplianceContext,
    DiscoveredBusiness,
    DiscoveryQuery,
    Enrichment,
    GeoPlace,
    InboundMessage,
    OutgoingMessage,
    ReplyCategory,
    ReplyToClassify,
    SendReceipt,
    Verdict,
    VerdictAction,
)
from .errors import (
    ConfigError,
    DiscoveryError,
    ImportFileError,
    OutreachError,
    PermanentSendError,
    PluginError,
    SendError,
    TransientSendError,
)
from .hookspecs import hookimpl
from .identity import data_id_from_url, identity_key, place_id_from_url
from .mime import build_mime, mime_bytes
from .models import Email, EnrichmentRecord, Lead
from .protocols import (
    ComplianceCheck,
    DiscoverySource,
    Enricher,
    Geocoder,
    Progress,
    ReconcilingSender,
    ReplyClassifier,
    ReplySource,
    Sender,
)
from .secrets import SecretRef

__all__ = [
    "ComplianceCheck",
    "ComplianceContext",
    "ConfigError",
    "DiscoveredBusiness",
    "DiscoveryError",
    "DiscoveryQuery",
    "DiscoverySource",
    "Email",
    "Enricher",
    "Enrichment",
    "EnrichmentRecord",
    "GeoPlace",
    "Geocoder",
    "ImportFileError",
    "InboundMessage",
    "Lead",
    "OutgoingMessage",
    "OutreachError",
    "PermanentSendError",
    "PluginContext",
    "PluginError",
    "Progress",
    "ReconcilingSender",
    "ReplyCategory",
    "ReplyClassifier",
    "ReplySource",
    "ReplyToClassify",
    "SecretRef",
    "SendError",
    "SendReceipt",
    "Sender",
    "TransientSendError",
    "Verdict",
    "VerdictAction",
    "build_mime",
    "data_id_from_url",
    "decode_section",
    "hookimpl",
    "identity_key",
    "mime_bytes",
    "place_id_from_url",
]
