"""HTML and JSON the fixture serves, following the Maps DOM of 2025-2026 (see maps-notes.md)."""

from __future__ import annotations

import json
from html import escape

from .places import Place

END_MARKER = (
    '<div class="m6QErb XiKgde tLjsW eKbjU"><p class="fontBodyMedium"><span>'
    '<span class="HlvSq">You\'ve reached the end of the list.</span></span></p></div>'
)


def card(place: Place) -> str:
    """One result card: ``div[role=article]`` with the link, name, rating, info lines and buttons."""
    name = escape(place.name)
    sponsored = '<div class="kpih0e"><span class="jHLihd">Sponsored</span></div>' if place.sponsored else ""
    website = (
        f'<a class="lcr4fd S9kvJb" data-value="Website" aria-label="Visit {name}\'s website" '
        f'href="{escape(place.website)}"></a>'
        if place.website
        else ""
    )
    return f"""<div class="Nv2PK THOPZb CpccDe" role="article" aria-label="{name}" jsaction="mouseover:pane.wfvdle1">
<a class="hfpxzc" aria-label="{name}" href="{escape(place.google_url)}" jsaction="pane.wfvdle1"></a>
<div class="bfdHYd Ppzolf OFBs3e"><div class="lI9IFe"><div class="y7PRA"><div class="Lui3Od"><div class="UaQhfb fontBodyMedium">
<div class="NrDZNb"><div class="qBF1Pd fontHeadlineSmall">{name}</div></div>{sponsored}
<div class="W4Efsd"><div class="AJB7ye"><span class="e4rVHe fontBodyMedium"><span role="img" class="ZkP5Je" aria-label="{place.rating} stars {place.reviews:,} Reviews"><span class="MW4etd" aria-hidden="true">{place.rating}</span><span class="UY7F9" aria-hidden="true">({place.reviews:,})</span></span></span></div></div>
<div class="W4Efsd"><div class="W4Efsd"><span><span>{escape(place.category)}</span></span><span> <span aria-hidden="true">·</span> <span class="google-symbols"></span></span><span> <span aria-hidden="true">·</span> <span>{escape(place.street)}</span></span></div>
<div class="W4Efsd"><span><span><span style="font-weight:400;color:rgba(25,134,57,1.00);">Open</span><span style="font-weight:400;"> ⋅ Closes 5 PM</span></span></span><span> <span aria-hidden="true">·</span> <span class="UsdlK">{escape(place.phone_national)}</span></span></div></div>
</div></div></div></div><div class="Rwjeuc"><div class="etWJQ jym1ob kdfrQc">{website}</div></div></div></div>"""


def related_card(place: Place) -> str:
    """A small card of another place, as a "People also search for" carousel shows it.

    Made for the tests from the shapes of tests/corpus/maps/gosom_entry1_place_page_2023.html
    (``div.Ymd7jc[role=link]`` labelled "Name · 4.4 stars · 64 reviews · Category"), with the
    role, class and link of a list card as 2026 pages give them: a reader that takes every
    card on the page picks these up.
    """
    name = escape(place.name)
    label = f"{name} · {place.rating} stars · {place.reviews} reviews · {escape(place.category)}"
    return f"""<div class="Nv2PK Ymd7jc ZNTm2e" role="article" tabindex="0" aria-label="{label}" style="min-width:156px;max-width:156px">
<a class="hfpxzc" aria-label="{name}" href="{escape(place.google_url)}"></a>
<div class="HJCejf fontBodyMedium LCTIRd"><div class="UW56ye"><div class="y6ocjd"><span class="GgK1If qBF1Pd">{name}</span></div>
<span><span class="Q5g20 fontBodyMedium"><span class="ZkP5Je" role="img" aria-label="{place.rating} stars {place.reviews} Reviews"><span class="MW4etd" aria-hidden="true">{place.rating}</span><span class="UY7F9" aria-hidden="true">({place.reviews})</span></span></span></span>
<div class="Q5g20">{escape(place.category)}</div></div></div></div>"""


def related_section(places: list[Place], heading: str = "People also search for") -> str:
    """A heading and a carousel of related places (the corpus page's ``div.fp2VUc`` carousel)."""
    if not places:
        return ""
    cards = "".join(related_card(p) for p in places)
    return f"""<div class="zSdcRe"><h2 class="kPvgOb fontHeadlineSmall">{escape(heading)}</h2></div>
<div aria-roledescription="carousel" class="fp2VUc"><div class="cRLbXd" style="min-height:100px">
<div class="dryRY">{cards}</div></div></div>"""


def results_page(
    query: str,
    first: list[Place],
    later: list[Place],
    *,
    batch: int,
    delay_ms: int,
    related: list[Place] | None = None,
) -> str:
    """A results page: the feed holds ``first``; scrolling appends ``later`` in batches, then the end marker.

    With ``related``, a "People also search for" carousel of those places sits inside the
    feed (after its third card) and another after the feed, as list pages sometimes show.
    """
    pending = json.dumps([card(p) for p in later])
    cards = "\n".join(card(p) for p in first[:3])
    cards += related_section(related or []) + "\n".join(card(p) for p in first[3:])
    after = related_section(related or [], "Related places")
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(query)} - Google Maps</title>
<style>.m6QErb[role=feed]{{height:600px;overflow-y:auto}} .Nv2PK{{height:120px}}</style></head>
<body><div role="main" aria-label="Results for {escape(query)}">
<div class="m6QErb DxyBCb kA9KIf dS8AEf" role="feed" aria-label="Results for {escape(query)}" tabindex="-1">
{cards}
</div>{after}</div>
<script>
(() => {{
  const feed = document.querySelector('div[role="feed"]');
  const pending = {pending};
  let loading = false, done = false;
  function more() {{
    if (loading || done) return;
    loading = true;
    setTimeout(() => {{
      const chunk = pending.splice(0, {batch});
      feed.insertAdjacentHTML('beforeend', chunk.join(''));
      if (!pending.length) {{ feed.insertAdjacentHTML('beforeend', {json.dumps(END_MARKER)}); done = true; }}
      loading = false;
    }}, {delay_ms});
  }}
  feed.addEventListener('scroll', () => {{
    if (feed.scrollTop + feed.clientHeight >= feed.scrollHeight - 200) more();
  }});
}})();
</script></body></html>"""


def _small_record(place: Place) -> str:
    """What 2026 pages keep in APP_INITIALIZATION_STATE: hex id, name, coordinates, place id."""
    record = [
        [
            place.data_id,
            place.name,
            [[1500.0, place.longitude, place.latitude], None, [1024, 768], 13.1],
            [None, None, place.latitude, place.longitude],
            None,
            [[None, None, None, None, place.place_id]],
        ]
    ]
    state = [
        [[1500.0, place.longitude, place.latitude]],
        None,
        None,
        [None, None, None, None, None, ")]}'\n" + json.dumps(record)],
    ]
    return json.dumps(state).replace("</", "<\\/")


def place_page(place: Place, related: list[Place] | None = None) -> str:
    """A place page as Maps renders it in 2025-2026 (a sponsored heading first when there is one).

    Its pane is the ``div.m6QErb[role=main]`` labelled with the place's name, as in
    tests/corpus/maps/gosom_entry1_place_page_2023.html; ``related`` places follow in a
    "People also search for" carousel, as on that page.
    """
    name = escape(place.name)
    sponsored = (
        '<h1 class="kpih0e fontHeadlineSmall">Sponsored · Smile Ads Inc.</h1>' if place.sponsored else ""
    )
    rows = "".join(
        f'<tr class="y0skZc"><td class="ylH6lf"><div>{escape(h.split(", ")[0])}</div></td>'
        f'<td class="mxowUb"><ul><li class="G8aQO">{escape(h.split(", ")[1])}</li></ul></td></tr>'
        for h in place.hours
    )
    website = (
        f'<a class="CsEnBe" data-item-id="authority" aria-label="Website: {escape(place.website)}" '
        f'href="/url?q={escape(place.website)}&amp;opi=89978449&amp;sa=U&amp;ved=0ahUKEw">'
        f'<div class="Io6YTe">{escape(place.website)}</div></a>'
        if place.website
        else ""
    )
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{name} - Google Maps</title></head>
<body><div class="m6QErb WNBkOb" role="main" aria-label="{name}">
{sponsored}
<div class="TIHn2"><div class="lMbq3e"><div><h1 class="DUwDvf lfPIob">{name}<span class="a5H0ec"></span></h1></div>
<div class="LBgpqf"><div class="skqShb"><div class="F7nice "><span><span aria-hidden="true">{place.rating}</span><span class="ceNzKf" role="img" aria-label="{place.rating} stars "></span></span><span><span><span role="img" aria-label="{place.reviews:,} reviews">({place.reviews:,})</span></span></span></div></div>
<div class="fontBodyMedium"><span class="mgr77e"><span><span><button class="DkEaL " jsaction="pane.wfvdle9.category">{escape(place.category)}</button></span></span></span></div></div></div></div>
<div role="region" aria-label="Information for {name}">
<button class="CsEnBe" data-item-id="address" aria-label="Address: {escape(place.address)} " data-tooltip="Copy address"><div class="Io6YTe fontBodyMedium">{escape(place.address)}</div></button>
<div class="OqCZI fontBodyMedium WVXvdc"><div class="OMl5r hH0dDd" role="button" jsaction="pane.openhours.51.dropdown">Open ⋅ Closes 5 PM</div>
<div aria-label="{escape("; ".join(h.replace("8 AM to 5 PM", "8 AM to 5 PM") for h in place.hours))}. Hide open hours for the week" class="t39EBf GUrTXd"><table class="eK4R0e fontBodyMedium"><tbody>{rows}</tbody></table></div></div>
{website}
<button class="CsEnBe" data-item-id="phone:tel:{place.phone_e164}" aria-label="Phone: {escape(place.phone_national)} " data-tooltip="Copy phone number"><div class="Io6YTe">{escape(place.phone_national)}</div></button>
<button class="CsEnBe" data-item-id="oloc" aria-label="Plus code: {escape(place.plus_code)}" data-tooltip="Copy plus code"><div class="Io6YTe">{escape(place.plus_code)}</div></button>
</div>
{related_section(related or [])}
</div>
<script>window.APP_INITIALIZATION_STATE={_small_record(place)};window.APP_FLAGS=[];</script>
</body></html>"""


def broken_page(place: Place) -> str:
    """A place page in a layout none of the selectors know."""
    return f"""<!doctype html><html><head><title>{escape(place.name)}</title></head>
<body><section class="zz-2027-pane"><div class="zz-title">{escape(place.name)}</div>
<div class="zz-line">{escape(place.address)}</div></section></body></html>"""


def nothing_page(query: str) -> str:
    """A search answer with neither a feed nor a place (an unknown layout)."""
    return f"""<!doctype html><html><head><title>{escape(query)}</title></head>
<body><div class="zz-2027-results"><p>Results are being redesigned.</p></div></body></html>"""


def consent_page(continue_url: str) -> str:
    """The consent wall: a form posting the choice, with reject and accept buttons."""
    value = escape(continue_url)
    return f"""<!doctype html><html><head><title>Before you continue to Google Maps</title></head>
<body><h1>Before you continue to Google</h1>
<form action="/consent/save" method="POST"><input type="hidden" name="continue" value="{value}">
<input type="hidden" name="set_eom" value="true">
<button type="submit" aria-label="Reject all">Reject all</button></form>
<form action="/consent/save" method="POST"><input type="hidden" name="continue" value="{value}">
<input type="hidden" name="set_eom" value="false">
<button type="submit" aria-label="Accept all">Accept all</button></form></body></html>"""


SORRY_PAGE = """<!doctype html><html><head><title>https://www.google.com/maps</title></head>
<body><div id="infoDiv">Our systems have detected unusual traffic from your computer network.
This page checks to see if it's really you sending the requests, and not a robot.</div></body></html>"""


def tbm_record(place: Place) -> list[object]:
    """The positional place record of a ``tbm=map`` answer (see parse_json's index map)."""
    record: list[object] = [None] * 230
    record[2] = [place.street, f"{place.city}, TX 78701"]
    record[4] = [None] * 7 + [place.rating, place.reviews]
    record[7] = [place.website, place.website.split("/")[2]] if place.website else None
    record[9] = [None, None, place.latitude, place.longitude]
    record[10] = place.data_id
    record[11] = place.name
    record[13] = [place.category]
    record[18] = f"{place.name}, {place.address}"
    record[78] = place.place_id
    record[178] = [
        [place.phone_national, [[place.phone_national, 1], ["+1 512-555-" + place.phone_e164[-4:], 2]]]
    ]
    record[183] = [
        None,
        [None, place.street, place.street, place.city, "78701", None, "US"],
        [None, ["862"], [place.plus_code], 2],
    ]
    return record


def tbm_answer(query: str, places: list[Place]) -> str:
    """A ``/search?tbm=map`` body: the guard line, then results in ``[0][1][1..]``."""
    entries: list[object] = [[None] * 8 + ["fixture", "0ahU", [query, 0]]]
    entries += [[None] * 14 + [tbm_record(place)] for place in places]
    return ")]}'\n" + json.dumps([[query, entries]])
