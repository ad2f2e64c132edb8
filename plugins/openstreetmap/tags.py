"""From a search ("dentists") to the OpenStreetMap tags that mark such places.

:data:`CATEGORY_TAGS` maps common searches, in the singular and in lower case, to one or
more ``key=value`` tags; a place with any of them matches. A search is looked up case
insensitively, and in the singular (``dentists``, ``pharmacies``, ``car repairs``). Any
other kind of place is searched with raw tags (``--tag shop=bicycle``); see the wiki's
*Map features* page for the tags in use. A tag's value ``*`` means any value
(``--tag craft=*``).
"""

from __future__ import annotations

import re

import msgspec

from outreach.kernel import DiscoveryError


class Tag(msgspec.Struct, frozen=True):
    """One ``key=value`` tag; ``value`` None means any value."""

    key: str
    value: str | None = None

    def __str__(self) -> str:
        return f"{self.key}={self.value if self.value is not None else '*'}"

    def label(self) -> str:
        """The category a place with this tag gets: ``car_repair`` is ``Car repair``."""
        text = self.value if self.value is not None else self.key
        return text.replace("_", " ").replace(";", ", ").strip().capitalize()


#: Quotes, backslashes and line breaks are refused: they would end the string in the Overpass query.
_TAG = re.compile(r'^([^=\s"\\]+)=([^="\\\n]+)$')


def parse_tag(text: str) -> Tag:
    """``"shop=bakery"`` as a :class:`Tag`; a :class:`DiscoveryError` for anything else."""
    match = _TAG.match(text.strip())
    value = match.group(2).strip() if match else ""
    if match is None or not value:
        raise DiscoveryError(
            f"'{text.strip()}' is not an OpenStreetMap tag: write KEY=VALUE (for example "
            "'shop=bakery'), or KEY=* for any value."
        )
    return Tag(match.group(1), None if value == "*" else value)


def _tags(*texts: str) -> tuple[Tag, ...]:
    return tuple(parse_tag(text) for text in texts)


#: Common searches and their tags (OpenStreetMap's own spellings, from its wiki).
CATEGORY_TAGS: dict[str, tuple[Tag, ...]] = {
    "dentist": _tags("amenity=dentist", "healthcare=dentist"),
    "doctor": _tags("amenity=doctors", "healthcare=doctor"),
    "clinic": _tags("amenity=clinic", "healthcare=clinic"),
    "pharmacy": _tags("amenity=pharmacy", "healthcare=pharmacy"),
    "veterinarian": _tags("amenity=veterinary"),
    "vet": _tags("amenity=veterinary"),
    "physiotherapist": _tags("healthcare=physiotherapist"),
    "optician": _tags("shop=optician"),
    "restaurant": _tags("amenity=restaurant"),
    "cafe": _tags("amenity=cafe"),
    "café": _tags("amenity=cafe"),
    "coffee shop": _tags("amenity=cafe"),
    "bar": _tags("amenity=bar"),
    "pub": _tags("amenity=pub"),
    "bakery": _tags("shop=bakery"),
    "butcher": _tags("shop=butcher"),
    "florist": _tags("shop=florist"),
    "hairdresser": _tags("shop=hairdresser"),
    "barber": _tags("shop=hairdresser"),
    "beauty salon": _tags("shop=beauty"),
    "hotel": _tags("tourism=hotel"),
    "guest house": _tags("tourism=guest_house"),
    "gym": _tags("leisure=fitness_centre"),
    "fitness centre": _tags("leisure=fitness_centre"),
    "fitness center": _tags("leisure=fitness_centre"),
    "plumber": _tags("craft=plumber"),
    "electrician": _tags("craft=electrician"),
    "carpenter": _tags("craft=carpenter"),
    "painter": _tags("craft=painter"),
    "roofer": _tags("craft=roofer"),
    "locksmith": _tags("craft=locksmith", "shop=locksmith"),
    "lawyer": _tags("office=lawyer"),
    "attorney": _tags("office=lawyer"),
    "notary": _tags("office=notary"),
    "accountant": _tags("office=accountant"),
    "tax advisor": _tags("office=tax_advisor"),
    "insurance": _tags("office=insurance"),
    "insurance agent": _tags("office=insurance"),
    "architect": _tags("office=architect"),
    "real estate": _tags("office=estate_agent"),
    "real estate agent": _tags("office=estate_agent"),
    "estate agent": _tags("office=estate_agent"),
    "car repair": _tags("shop=car_repair"),
    "mechanic": _tags("shop=car_repair"),
    "car dealer": _tags("shop=car"),
    "bicycle shop": _tags("shop=bicycle"),
    "hardware store": _tags("shop=hardware", "shop=doityourself"),
    "supermarket": _tags("shop=supermarket"),
    "bookshop": _tags("shop=books"),
    "bookstore": _tags("shop=books"),
    "clothes shop": _tags("shop=clothes"),
    "jeweller": _tags("shop=jewelry"),
    "jeweler": _tags("shop=jewelry"),
    "kindergarten": _tags("amenity=kindergarten"),
    "driving school": _tags("amenity=driving_school"),
}


def _normalized(text: str) -> str:
    return " ".join(re.sub(r"[-_]+", " ", text.casefold()).split())


def _singulars(text: str) -> list[str]:
    """``text`` and the singular forms its last word may have (``pharmacies``: ``pharmacy``)."""
    head, _, last = text.rpartition(" ")
    forms = [last]
    if last.endswith("ies"):
        forms.append(last[:-3] + "y")
    if last.endswith("es"):
        forms.append(last[:-2])
    if last.endswith("s"):
        forms.append(last[:-1])
    return [f"{head} {form}".strip() for form in forms]


def tags_for_query(text: str) -> tuple[Tag, ...] | None:
    """The tags :data:`CATEGORY_TAGS` has for the search ``text``, or None when it has none."""
    for form in _singulars(_normalized(text)):
        if form in CATEGORY_TAGS:
            return CATEGORY_TAGS[form]
    return None


def search_tags(text: str, raw: list[str] | tuple[str, ...] = ()) -> tuple[Tag, ...]:
    """The tags to search: the raw ``key=value`` tags when given, else the search's mapping.

    Raise :class:`DiscoveryError` saying how to pass a tag when the search has no mapping.
    """
    if raw:
        return tuple(dict.fromkeys(parse_tag(item) for item in raw))
    mapped = tags_for_query(text)
    if mapped is None:
        raise DiscoveryError(
            f"OpenStreetMap has no known tag for '{text.strip()}'. Name the kind of place with a tag: "
            "`outreach discover ... --source openstreetmap --tag KEY=VALUE` (for example "
            "--tag shop=bicycle; see wiki.openstreetmap.org/wiki/Map_features), or search for "
            "a common kind such as 'dentists', 'restaurants' or 'plumbers'."
        )
    return mapped
