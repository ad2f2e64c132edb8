"""The ``website`` enricher: read a lead's site and a few of its pages, and say what they hold."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from outreach.kernel import Enrichment, Lead

from .emails import Found, clean, on_domain, rank
from .fetch import Fetched, Fetcher
from .links import choose_pages
from .options import WebsiteOptions
from .page import PageFacts, absolute, decode_body, parse_page
from .phones import find_phones, region_for

_OTHER_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*:(?!\d)", re.IGNORECASE)
#: How sure the enricher is of the lead's address, by where the best one lives.
CONFIDENCE = {"own_domain": 0.9, "free_mail": 0.6, "third_party": 0.3}


def site_url(website: str | None) -> str | None:
    """The lead's website as a fetchable URL (``acme.com`` becomes ``http://acme.com/``), or None."""
    text = (website or "").strip()
    if not text:
        return None
    if "://" not in text:
        if _OTHER_SCHEME.match(text):  # mailto:, tel:, javascript: are no websites
            return None
        text = "http://" + text.lstrip("/")
    return absolute(text, "")


def _page_record(fetched: Fetched, kind: str) -> dict[str, object]:
    return {
        "url": fetched.url,
        "final_url": fetched.final_url,
        "kind": kind,
        "status": fetched.status,
        "content_type": fetched.content_type,
        "bytes": len(fetched.body),
        "truncated": fetched.truncated,
        "redirects": fetched.redirects,
        "error": fetched.error,
        "blocked": fetched.blocked,
    }


class WebsiteEnricher:
    """Finds a business's addresses, phones, social profiles and self-description on its site."""

    name = "website"
    order = 10

    def __init__(self, options: WebsiteOptions) -> None:
        self.options = options
        self.fetcher = Fetcher(options)

    async def enrich(self, lead: Lead) -> Enrichment:
        """Read the home page, then up to ``max_pages`` contact-like pages, and rank what they hold."""
        url = site_url(lead.website_url)
        if url is None:
            reason = "no website" if not lead.website_url else "the website is not a web address"
            return Enrichment(data={"reachable": False, "error": reason, "pages": []}, confidence=0.0)
        visited: list[tuple[Fetched, str]] = []
        read: list[tuple[str, PageFacts]] = []
        async with self.fetcher.session() as client:
            home = await self.fetcher.fetch(client, url)
            visited.append((home, "home"))
            if home.readable:
                facts = _parse(home)
                read.append((home.final_url, facts))
                hosts = {urlsplit(url).netloc, urlsplit(home.final_url).netloc}
                seen = {url, home.final_url, *home.redirects}
                for page_url, kind in choose_pages(facts.links, hosts, seen, self.options.max_pages):
                    page = await self.fetcher.fetch(client, page_url)
                    visited.append((page, kind))
                    if page.readable and page.final_url not in seen:
                        seen.add(page.final_url)
                        read.append((page.final_url, _parse(page)))
        return self._summarize(lead, url, visited, read)

    def _summarize(
        self, lead: Lead, url: str, visited: list[tuple[Fetched, str]], read: list[tuple[str, PageFacts]]
    ) -> Enrichment:
        home = visited[0][0]
        hosts = [urlsplit(url).hostname or "", urlsplit(home.final_url).hostname or ""]
        found = [Found(f.address, f.how, page) for page, facts in read for f in facts.emails]
        emails = rank(found, hosts)
        region = region_for(lead.country_code, lead.location, hosts[-1])
        phones = find_phones(((page, facts.text, facts.tel_links) for page, facts in read), region)
        socials: dict[str, str] = {}
        for _, facts in read:
            for network, profile in facts.socials.items():
                socials.setdefault(network, profile)
        people = _people(read)
        first = read[0][1] if read else PageFacts()
        data = {
            "url": url,
            "final_url": home.final_url,
            "reachable": home.ok,
            "status": home.status,
            "error": home.error,
            "pages": [_page_record(page, kind) for page, kind in visited],
            "emails": emails,
            "phones": phones,
            "phone_region": region,
            "socials": socials,
            "people": people,
            "title": first.title,
            "description": first.description,
            "headline": first.headline,
            "site_name": first.site_name,
        }
        fields: dict[str, object] = {}
        best = emails[0] if emails else None
        if best is not None and _better_than_current(best, lead.email, hosts):
            fields["email"] = best["address"]
        if phones and not lead.phone:
            fields["phone"] = phones[0]["display"]
        if people and not lead.contact_name:
            fields["contact_name"] = _decision_maker(people)["name"]
        if best is not None:
            tier = next(t for t in CONFIDENCE if best[t])
            confidence = CONFIDENCE[tier]
        else:
            confidence = 0.2 if home.ok else 0.0
        return Enrichment(data=data, lead_fields=fields, confidence=confidence, source=home.final_url)


#: Job titles of the person a cold email should reach first, in several languages.
_DECIDES = re.compile(
    r"owner|founder|ceo|chief executive|managing director|president|principal|proprietor|"
    r"inhaber|gesch[aä]ftsf[uü]hr|g[ée]rant|fondat|propri[ée]taire|director|dueñ|titular",
    re.IGNORECASE,
)


def _people(read: list[tuple[str, PageFacts]]) -> list[dict[str, object]]:
    """Everyone the pages' structured data names, once each (by name), with the page that says so
    (``source``)."""
    people: dict[str, dict[str, object]] = {}
    for page, facts in read:
        for person in facts.people:
            key = " ".join(person.name.casefold().split())
            entry = people.setdefault(
                key,
                {"name": person.name, "job_title": None, "email": None, "how": person.how, "source": page},
            )
            entry["job_title"] = entry["job_title"] or person.job_title
            entry["email"] = entry["email"] or clean(person.email or "")
    return list(people.values())


def _decision_maker(people: list[dict[str, object]]) -> dict[str, object]:
    """The person to address: the first whose job title says they decide, else the first named."""
    return next((p for p in people if _DECIDES.search(str(p["job_title"] or ""))), people[0])


def _parse(page: Fetched) -> PageFacts:
    return parse_page(decode_body(page.body, page.charset), page.final_url)


def _better_than_current(best: dict[str, object], current: str | None, hosts: list[str]) -> bool:
    """Whether the site's best address should replace the lead's: it has none, or one off its own domain."""
    if not current:
        return True
    if current.strip().casefold() == best["address"]:
        return False
    return bool(best["own_domain"]) and not on_domain(current.strip().casefold(), hosts)
