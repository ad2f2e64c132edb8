"""outreach's kernel: the hook specifications, domain types and services.

This module is the public API for plugins. A plugin imports only from here::

    from outreach.kernel import hookimpl, DiscoveredBusiness, Sender

Everything else under ``outreach.kernel`` (the store, the services) is internal
and may change without notice.
"""

from __future__ import annotations

from .addresses import address_of, needs_smtputf8, sendable_address
from .compliance import LEGAL_HOLD, compliance_problems, public_url, sender_problem, url_problem
from .config import decode_section
from .context import PluginContext
from .contracts import (
    Attachment,
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
    LookupUnsupported,
    OutreachError,
    PermanentSendError,
    PluginError,
    SendError,
    SenderUnavailable,
    TransientSendError,
    UncertainSendError,
)
from .gazetteer import Gazetteer, Town, countries, country_near, load_gazetteer, place_key
from .hookspecs import hookimpl
from .identity import data_id_from_url, identity_key, place_id_from_url
from .mime import build_mime, mime_bytes
from .models import Email, EnrichmentRecord, InboundRecord, Lead
from .private_files import private_dir, write_private
from .protocols import (
    ComplianceCheck,
    DiscoverySource,
    Enricher,
    Geocoder,
    MessagePreparer,
    Progress,
    ReconcilingSender,
    ReplyClassifier,
    ReplySource,
    Sender,
)
from .secrets import SecretRef
from .tokens import TRACKING_KEY, read_token, sign_token

__all__ = [
    "LEGAL_HOLD",
    "TRACKING_KEY",
    "Attachment",
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
    "Gazetteer",
    "GeoPlace",
    "Geocoder",
    "ImportFileError",
    "InboundMessage",
    "InboundRecord",
    "Lead",
    "LookupUnsupported",
    "MessagePreparer",
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
    "SenderUnavailable",
    "Town",
    "TransientSendError",
    "UncertainSendError",
    "Verdict",
    "VerdictAction",
    "address_of",
    "build_mime",
    "compliance_problems",
    "countries",
    "country_near",
    "data_id_from_url",
    "decode_section",
    "hookimpl",
    "identity_key",
    "load_gazetteer",
    "mime_bytes",
    "needs_smtputf8",
    "place_id_from_url",
    "place_key",
    "private_dir",
    "public_url",
    "read_token",
    "sendable_address",
    "sender_problem",
    "sign_token",
    "url_problem",
    "write_private",
]
