"""The doctor's transport checks: MX of the From domain (replies reach someone) and the SMTP server's TLS."""

from __future__ import annotations

import asyncio

import aiosmtplib

from .basics import lookup_warning
from .lookups import LookupFailed
from .options import SmtpView
from .report import FAIL, OK, WARN, Finding


class TransportChecks:
    """MX and TLS findings (mixed into :class:`~.doctor.Doctor`)."""

    # -- MX and TLS --------------------------------------------------------------------

    async def _mx(self, domain: str) -> Finding:
        try:
            hosts = await self.lookups.mx(domain)
        except LookupFailed as exc:
            return lookup_warning("mx", "mx", f"The mail servers of {domain}", str(exc))
        names = [host for _preference, host in hosts if host]
        if names:
            return Finding(
                group="mx",
                check="mx",
                status=OK,
                summary=f"Replies to {domain} go to {', '.join(names)}.",
                details={"hosts": names},
            )
        return Finding(
            group="mx",
            check="mx",
            status=FAIL,
            summary=(
                f"{domain} declares that it accepts no mail (null MX), so replies bounce."
                if hosts
                else f"{domain} has no MX record, so replies may never reach you."
            ),
            fix=f"Publish MX records for {domain} that point at the servers of your mailbox provider.",
        )

    async def _tls(self, backend: str, view: SmtpView | None) -> Finding:
        if backend == "gmail":
            return Finding(group="tls", check="tls", status=OK, summary="Gmail's API is reached over HTTPS.")
        if backend != "smtp" or view is None:
            return Finding(
                group="tls",
                check="tls",
                status=WARN,
                summary=f"The '{backend}' sender has no SMTP server for the doctor to check.",
            )
        where = f"{view.host}:{view.port}"
        if view.port == 465 and not view.tls:
            return Finding(
                group="tls",
                check="tls",
                status=FAIL,
                summary=f"{where} expects TLS from the first byte, but [sender.smtp] tls is false.",
                fix="Set [sender.smtp] tls = true for port 465 (or use port 587 with STARTTLS).",
            )
        timeout = self.options.smtp_timeout
        client = aiosmtplib.SMTP(
            hostname=view.host,
            port=view.port,
            use_tls=view.tls,
            start_tls=False,
            validate_certs=view.validate_certs,
            cert_bundle=view.cert_bundle,
            timeout=timeout,
            local_hostname=view.local_hostname,
        )
        try:
            await asyncio.wait_for(client.connect(), timeout)
            await asyncio.wait_for(client.ehlo(), timeout)
            starttls = client.supports_extension("starttls")
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            return Finding(
                group="tls",
                check="tls",
                status=FAIL,
                summary=f"Cannot talk to {where}{' over TLS' if view.tls else ''}: "
                f"{exc or type(exc).__name__}.",
                fix="Check [sender.smtp] host, port and tls (465 with tls = true, or 587 with STARTTLS).",
            )
        finally:
            try:
                if client.is_connected:
                    await asyncio.wait_for(client.quit(), 5)
            except (aiosmtplib.SMTPException, OSError, TimeoutError):
                client.close()
        if view.tls:
            return Finding(
                group="tls", check="tls", status=OK, summary=f"{where} speaks TLS from the first byte."
            )
        if not starttls:
            return Finding(
                group="tls",
                check="tls",
                status=FAIL,
                summary=f"{where} does not offer STARTTLS: the login and every message would cross the "
                f"network in clear.",
                fix="Use the provider's submission port with TLS (587 with STARTTLS, or 465 with tls = "
                "true).",
            )
        if view.starttls is False:
            return Finding(
                group="tls",
                check="tls",
                status=WARN,
                summary=f"{where} offers STARTTLS, but [sender.smtp] starttls = false keeps the "
                f"connection in clear.",
                fix="Remove starttls = false (or set it to true).",
            )
        return Finding(group="tls", check="tls", status=OK, summary=f"{where} offers STARTTLS.")
