"""The fictional places the fixture server shows, spread around a centre point."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from urllib.parse import quote

#: Where the fixture's places are (Austin, TX), and how far they spread (degrees).
CENTRE = (30.2672, -97.7431)
SPREAD = 0.04

STREETS = ("Congress Ave", "Lamar Blvd", "6th St", "Guadalupe St", "Burnet Rd", "Red River St")
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass
class Place:
    """One business of the fixture, with every field Maps shows."""

    index: int
    name: str
    category: str
    street: str
    city: str
    latitude: float
    longitude: float
    rating: float
    reviews: int
    phone_national: str
    phone_e164: str
    website: str | None
    place_id: str
    data_id: str
    plus_code: str
    sponsored: bool = False
    #: Its place page matches none of the selectors (a layout Maps might ship tomorrow).
    broken: bool = False
    hours: list[str] = field(default_factory=list)

    @property
    def address(self) -> str:
        return f"{self.street}, {self.city}, TX 78701"

    @property
    def google_url(self) -> str:
        """The place URL as a real results page links it (on www.google.com)."""
        return (
            f"https://www.google.com/maps/place/{quote(self.name.replace(' ', '+'), safe='+')}/"
            f"@{self.latitude},{self.longitude},17z/data=!4m7!3m6!1s{self.data_id}!8m2!3d{self.latitude}"
            f"!4d{self.longitude}!16s%2Fg%2F11fx{self.index:04d}!19s{self.place_id}?entry=ttu"
        )


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def universe(query: str, count: int = 40, *, broken: bool = True) -> list[Place]:
    """The places a search for ``query`` can find: ``count`` of them on a jittered grid."""
    base = " ".join(query.split()).title() or "Place"
    side = math.ceil(math.sqrt(count))
    places = []
    for i in range(count):
        digest = _digest(f"{base.casefold()}|{i}")
        row, col = divmod(i, side)
        jitter = int(digest[:4], 16) / 0xFFFF - 0.5
        latitude = round(CENTRE[0] - SPREAD + (row + 0.5 + jitter * 0.3) * 2 * SPREAD / side, 7)
        longitude = round(CENTRE[1] - SPREAD + (col + 0.5 - jitter * 0.3) * 2 * SPREAD / side, 7)
        places.append(
            Place(
                index=i,
                name=f"{base} {i + 1:02d}",
                category="Dentist" if i % 3 else "Dental clinic",
                street=f"{100 + i * 7} {STREETS[i % len(STREETS)]}",
                city="Austin",
                latitude=latitude,
                longitude=longitude,
                rating=round(3.5 + (int(digest[4:6], 16) % 15) / 10, 1),
                reviews=int(digest[6:10], 16) % 5000 + 1,
                phone_national=f"(512) 555-{100 + i:04d}",
                phone_e164=f"+1512555{100 + i:04d}",
                website=None if i % 5 == 4 else f"https://{base.lower().replace(' ', '')}{i + 1}.example/",
                place_id="ChIJ" + digest[10:33],
                data_id=f"0x{digest[33:49]}:0x{digest[49:64]}",
                plus_code=f"7{i:02d}C+{i % 10}{i % 7} Austin, Texas",
                sponsored=i == 0,
                broken=broken and i == 3,
                hours=[f"{day}, {'Closed' if day == 'Sunday' else '8 AM to 5 PM'}" for day in DAYS],
            )
        )
    return places


def nearest(places: list[Place], latitude: float, longitude: float, limit: int) -> list[Place]:
    """The ``limit`` places closest to a point (what a biased search shows first)."""
    return sorted(places, key=lambda p: (p.latitude - latitude) ** 2 + (p.longitude - longitude) ** 2)[:limit]
