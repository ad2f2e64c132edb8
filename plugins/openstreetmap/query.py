"""The Overpass QL query: named places with any of the tags, around a point."""

from __future__ import annotations

from .tags import Tag


def _filter(tag: Tag) -> str:
    if tag.value is None:
        return f'["{tag.key}"]'
    return f'["{tag.key}"="{tag.value}"]'


def overpass_query(
    tags: tuple[Tag, ...], latitude: float, longitude: float, radius_m: int, timeout: int
) -> str:
    """Nodes, ways and relations with a name and one of ``tags`` within ``radius_m`` of the point.

    ``out center tags`` gives each way and relation one centre point and no geometry,
    which is all a lead needs and a fraction of the answer's size.
    """
    around = f"(around:{radius_m},{latitude:.6f},{longitude:.6f})"
    lines = [f'  nwr{_filter(tag)}["name"]{around};' for tag in tags]
    return f"[out:json][timeout:{timeout}];\n(\n" + "\n".join(lines) + "\n);\nout center tags;\n"
