"""``[plugins.first_line]``: which model writes the line, what it is asked, and the limits."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Annotated

import msgspec

from outreach.kernel import ConfigError

#: The facts a prompt may name, each as ``{name}``; ``{facts}`` lists every fact the lead has.
PLACEHOLDERS = (
    "business_name",
    "city",
    "category",
    "services",
    "title",
    "headline",
    "description",
    "facts",
    "max_words",
)
PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")

DEFAULT_PROMPT = """\
Write the opening sentence of a short, friendly cold email to the business described below.
Use only these facts; do not add names, numbers, places, prices or claims that they do not state.
Write one sentence of at most {max_words} words, addressed to the business ("you", "your").
Answer with the sentence alone: no greeting, no quotation marks, no explanation.

{facts}
"""


class FirstLineOptions(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """``[plugins.first_line]``; the plugin does nothing until ``model`` is set."""

    #: The ``llm`` model id or alias (``llm models`` lists them); unset, no line is written.
    model: str | None = None
    #: What the model is asked, with ``{placeholders}`` for the lead's facts (see :data:`PLACEHOLDERS`).
    prompt: str = DEFAULT_PROMPT
    #: The longest answer accepted, in words.
    max_words: Annotated[int, msgspec.Meta(ge=5, le=80)] = 30
    #: Seconds the model may take for one lead; past that the lead keeps the plain sentence.
    timeout: Annotated[float, msgspec.Meta(gt=0, le=600)] = 30.0

    def __post_init__(self) -> None:
        if self.model is not None and not self.model.strip():
            self.model = None
        unknown = sorted(set(PLACEHOLDER.findall(self.prompt)) - set(PLACEHOLDERS))
        if unknown:
            raise ConfigError(
                f"[plugins.first_line] prompt: unknown placeholder {_braced(unknown)}; "
                f"use {_braced(PLACEHOLDERS)}."
            )
        if not PLACEHOLDER.search(self.prompt):
            raise ConfigError(
                "[plugins.first_line] prompt names no fact: "
                "add {facts} (or {business_name}, {description}...)."
            )


def _braced(names: Iterable[str]) -> str:
    return ", ".join("{" + name + "}" for name in names)
