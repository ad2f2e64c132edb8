"""The one exception hierarchy of outreach.

Every error a person can cause or fix derives from :class:`OutreachError`, and its
message is a sentence that says what went wrong and, where there is one, what to do.
The CLI prints that sentence and exits non-zero; the web shows it on a friendly page.
"""

from __future__ import annotations


class OutreachError(Exception):
    """Base class of every error outreach reports to a person."""

    #: HTTP status the web answers with when this error escapes a handler.
    status_code: int = 400


class InvalidInput(OutreachError):
    """A value a person typed or sent is not acceptable (an address that is not an email)."""

    status_code = 422


class ConfigError(OutreachError):
    """The configuration file or a configured value is wrong or missing."""


class SecretUnavailable(ConfigError):
    """A secret reference (``env:`` or ``keyring:``) could not be resolved."""


class NotFound(OutreachError):
    """A lead, email, job or other record does not exist."""

    status_code = 404


class IllegalTransition(OutreachError):
    """A state change that the state machine does not allow."""

    status_code = 409

    def __init__(self, entity: str, old: str, new: str, allowed: list[str] | None = None) -> None:
        self.entity, self.old, self.new = entity, old, new
        hint = f" From '{old}' it can go to: {', '.join(sorted(allowed))}." if allowed else ""
        super().__init__(f"A {entity} cannot go from '{old}' to '{new}'.{hint}")


class ConcurrentUpdate(OutreachError):
    """Someone else changed the record between our read and our write."""

    status_code = 409

    def __init__(self, entity: str, entity_id: int, expected_version: int | None) -> None:
        self.entity, self.entity_id, self.expected_version = entity, entity_id, expected_version
        super().__init__(
            f"{entity.capitalize()} {entity_id} was changed by someone else "
            f"(expected version {expected_version}). Reload it and try again."
        )


class PluginError(OutreachError):
    """A plugin is broken, misconfigured, or registered something twice."""


class DuplicateRegistration(PluginError):
    """Two plugins registered an object under the same name."""


class DiscoveryError(OutreachError):
    """A discovery source could not run the search it was asked for."""


class ImportFileError(DiscoveryError):
    """A file to import cannot be read at all (as opposed to a bad row in it)."""


class SendError(OutreachError):
    """A sender could not deliver a message.

    ``permanent`` says whether trying again can ever help; ``reply`` holds the
    server's own words when there were any.
    """

    def __init__(self, message: str, *, permanent: bool, reply: str | None = None) -> None:
        self.permanent = permanent
        self.reply = reply
        super().__init__(message)


class TransientSendError(SendError):
    """A send that failed for now (a 4xx reply, a timeout, a dropped connection)."""

    def __init__(self, message: str, *, reply: str | None = None) -> None:
        super().__init__(message, permanent=False, reply=reply)


class SenderUnavailable(TransientSendError):
    """The sender's server cannot be reached or refuses us (connection refused, login failed).

    Nothing was handed over, so a failover sender may take the message; the email
    itself is not at fault and the try does not count against it.
    """


class UncertainSendError(SendError):
    """The connection broke after the message was handed over, before the server answered.

    The server may have accepted it. The email is never sent again blindly: a sender
    that can look it up settles it, otherwise a person decides.
    """

    def __init__(self, message: str, *, reply: str | None = None) -> None:
        super().__init__(message, permanent=False, reply=reply)


class LookupUnsupported(SendError):
    """A sender cannot tell whether a message was accepted (no Sent folder to search)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, permanent=False)


class PermanentSendError(SendError):
    """A send that will never succeed as it is (a 5xx reply, a bad recipient)."""

    def __init__(self, message: str, *, reply: str | None = None) -> None:
        super().__init__(message, permanent=True, reply=reply)


class TemplateError(OutreachError):
    """An email template that cannot be rendered: a syntax error, an unknown variable, a forbidden access."""

    def __init__(self, message: str, *, problems: list[str] | None = None) -> None:
        self.problems = problems or [message]
        super().__init__(message)


class SequenceError(OutreachError):
    """A sequence file or an enrollment that cannot be used as it is."""


class JobCancelled(OutreachError):
    """Raised inside a job when a person asked for it to stop."""
