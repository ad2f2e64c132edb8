"""The fast reading of envelope addresses agrees with ``parseaddr`` on every input."""

from __future__ import annotations

from email.utils import parseaddr

import pytest
from hypothesis import given
from hypothesis import strategies as st

from outreach.kernel.addresses import address_of


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("ann@example.com", "ann@example.com"),
        ("<ann@example.com>", "ann@example.com"),
        ("Ann Example <ann@example.com>", "ann@example.com"),
        ("ann_b-c <ann+tag@mail.example.co.uk>", "ann+tag@mail.example.co.uk"),
        ('"Example, Ann" <ann@example.com>', "ann@example.com"),
        ("=?utf-8?q?Zo=C3=AB?= <zoe@example.com>", "zoe@example.com"),
        ("ann@example.com (Ann)", "ann@example.com"),
        ("", ""),
        ("not an address", "not"),
    ],
)
def test_addresses_are_read_as_parseaddr_reads_them(value: str, expected: str) -> None:
    assert address_of(value) == expected == parseaddr(value)[1]


#: Characters that make up addresses and the ways they are written, including awkward ones.
_PIECES = st.sampled_from(
    ["ann", "b", "@", ".", "example", "com", " ", "<", ">", '"', ",", "(", ")", ";", ":", "+", "-", "_", "é"]
)


@given(st.lists(_PIECES, max_size=12).map("".join))
def test_any_value_gives_what_parseaddr_gives(value: str) -> None:
    assert address_of(value) == parseaddr(value)[1]
