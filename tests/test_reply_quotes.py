"""Quoted text is removed from replies written in many languages, as their mail clients
write the line above the quote."""

from __future__ import annotations

import pytest

from outreach.kernel.mail.quoting import reply_text

QUOTE = "\n> Hello, we build websites for dentists.\n> Would you like to talk?\n"


@pytest.mark.parametrize(
    ("language", "reply", "attribution"),
    [
        (
            "en",
            "Yes, call me on Tuesday.",
            "On Thu, Dec 3, 2026 at 10:00 AM Ann Example <ann@main.example> wrote:",
        ),
        ("sv", "Ja, ring mig på tisdag.", "Den 3 dec. 2026 kl. 10:00 skrev Ann Example <ann@main.example>:"),
        ("ja", "はい、火曜日にお電話ください。", "2026年12月3日(木) 10:00 Ann Example <ann@main.example>:"),
        (
            "pl",
            "Tak, proszę zadzwonić we wtorek.",
            "W dniu 3.12.2026 o 10:00, Ann Example <ann@main.example> pisze:",
        ),
        (
            "pl-thunderbird",
            "Tak, proszę zadzwonić we wtorek.",
            "Dnia 3.12.2026 o 10:00, Ann Example napisał(a):",
        ),
        (
            "pt",
            "Sim, ligue-me na terça.",
            "Em qui., 3 de dez. de 2026 às 10:00, Ann Example <ann@main.example> escreveu:",
        ),
        (
            "de",
            "Ja, rufen Sie mich am Dienstag an.",
            "Am Do., 3. Dez. 2026 um 10:00 Uhr schrieb Ann Example <ann@main.example>:",
        ),
        (
            "fr",
            "Oui, appelez-moi mardi.",
            "Le jeu. 3 déc. 2026 à 10:00, Ann Example <ann@main.example> a écrit :",
        ),
        (
            "es",
            "Sí, llámeme el martes.",
            "El jue, 3 dic 2026 a las 10:00, Ann Example (<ann@main.example>) escribió:",
        ),
        (
            "it",
            "Sì, mi chiami martedì.",
            "Il giorno gio 3 dic 2026 alle ore 10:00 Ann Example <ann@main.example> ha scritto:",
        ),
        ("nl", "Ja, bel me dinsdag.", "Op do 3 dec. 2026 om 10:00 schreef Ann Example <ann@main.example>:"),
        (
            "da",
            "Ja, ring til mig tirsdag.",
            "Den tor. 3. dec. 2026 kl. 10.00 skrev Ann Example <ann@main.example>:",
        ),
        (
            "cs",
            "Ano, zavolejte mi v úterý.",
            "Dne čt 3. 12. 2026 10:00 Ann Example <ann@main.example> napsal(a):",
        ),
    ],
)
def test_the_quote_under_a_clients_attribution_line_is_removed(language, reply, attribution) -> None:
    assert reply_text(f"{reply}\n\n{attribution}{QUOTE}") == reply


def test_a_wrapped_attribution_and_an_unprefixed_quote_are_removed_with_the_signature_kept() -> None:
    text = (
        "Obrigado, tenho interesse.\n\nEnviado do meu iPhone\n\n"
        "Em qui., 3 de dez. de 2026 às 10:00, Ann Example <\nann@main.example> escreveu:\n\n"
        "Olá, fazemos sites para dentistas.\n"
    )
    assert reply_text(text) == "Obrigado, tenho interesse.\n\nEnviado do meu iPhone"
