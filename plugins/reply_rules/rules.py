"""The rule-based reply categories: wording in several languages, checked in an order
where the more specific category wins ("not interested" before "interested")."""

from __future__ import annotations

import re

#: (category, confidence, pattern), checked in order; the first match wins.
RULES: tuple[tuple[str, float, re.Pattern[str]], ...] = (
    (
        "unsubscribe",
        0.9,
        re.compile(
            r"\bunsubscribe\b|remove\s+(me|us|my\s+(e-?mail|address))|take\s+(me|us)\s+off"
            r"|stop\s+(e-?mailing|contacting|sending|writing)|do\s+not\s+(contact|e-?mail|email|write)"
            r"|don'?t\s+(contact|e-?mail|email|write)|opt[\s-]?out|no\s+more\s+e-?mails"
            r"|abmelden|austragen|keine\s+(weiteren\s+)?e-?mails|désinscri|desinscri|désabonne|ne\s+plus\s+m'?écrire"
            r"|darme\s+de\s+baja|darse\s+de\s+baja|no\s+me\s+(escriba|contacte)|cancellami|disiscriv",
            re.I,
        ),
    ),
    (
        "wrong_person",
        0.75,
        re.compile(
            r"wrong\s+(person|contact|address|email)|not\s+the\s+(right|correct|best)\s+(person|contact)"
            r"|(i'?m|i\s+am)\s+not\s+(the\s+)?(person|one)\s+(to|who)|no\s+longer\s+(works?|with|at|employed)"
            r"|(has\s+)?left\s+the\s+(company|firm|practice|business)|you\s+(should|might\s+want\s+to)\s+(contact|reach"
            r"|speak|talk|email)|please\s+(contact|reach\s+out\s+to|email)\s+(my|our|the)\s+\w+"
            r"|forwarded\s+(this|your\s+(email|message))\s+to|falsche[rn]?\s+(ansprechpartner|person)",
            re.I,
        ),
    ),
    (
        "not_interested",
        0.8,
        re.compile(
            r"not\s+interested|no\s+interest|no,?\s+thank(s|\s+you)|we'?re\s+(all\s+)?(set|good|fine)"
            r"|we\s+are\s+(all\s+)?(set|good|fine|not\s+looking)|not\s+(at\s+this\s+time|right\s+now|for\s+us|looking)"
            r"|don'?t\s+need|do\s+not\s+need|no\s+need|already\s+(have|work\s+with|use)|pass\s+on\s+this"
            r"|kein(e|en)?\s+(interesse|bedarf)|pas\s+intéress|no\s+(estamos|estoy)\s+interesad|non\s+(siamo|sono)\s+interessat"
            r"|geen\s+interesse",
            re.I,
        ),
    ),
    (
        "interested",
        0.7,
        re.compile(
            r"\binterest(ed|ing)\b|sounds\s+(good|great|interesting)|tell\s+me\s+more|more\s+(info|information|details)"
            r"|let'?s\s+(talk|chat|meet|schedule|set\s+up|do\s+it|connect)|(give\s+me|can\s+you)\s+(a\s+)?call"
            r"|call\s+me|book\s+a\s+(call|meeting|demo)|schedule\s+a\s+(call|meeting|demo)|send\s+(me\s+)?(more|details|pricing|a\s+quote)"
            r"|how\s+much|what\s+(does|would)\s+(it|this)\s+cost|pricing|are\s+you\s+(free|available)"
            r"|i'?m\s+(free|available)|when\s+(can|could)\s+we|happy\s+to\s+(chat|talk|learn)|yes,?\s+please"
            r"|interessiert|gerne\s+mehr|intéress|me\s+interesa|interessat",
            re.I,
        ),
    ),
)


def match_category(text: str) -> tuple[str, float, str] | None:
    """The first rule ``text`` matches: category, confidence, and the words that matched."""
    for category, confidence, pattern in RULES:
        found = pattern.search(text)
        if found:
            return category, confidence, found.group(0)
    return None
