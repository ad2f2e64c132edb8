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


class PermanentSendError(SendError):
    """A send that will never succeed as it is (a 5xx reply, a bad recipient)."""

    def __init__(self, message: str, *, reply: str | None = None) -> None:
        super().__init__(message, permanent=True, reply=reply)


class JobCancelled(OutreachError):
    """Raised inside a job when a person asked for it to stop."""
