"""Inbound mail: parsing, bounces (RFC 3464 and the common non-standard notices),
auto-replies (RFC 3834 and friends), quoted-text removal, and the analysis that ties
them together into one :class:`~outreach.kernel.mail.analysis.MailAnalysis`."""
