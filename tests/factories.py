from companies.models import Company, Curation, CurationPin


def make_company(name, **fields):
    """A company saved the normal way (signals fire), with a website derived from its name."""
    slug = "".join(ch for ch in name.lower() if ch.isalnum())
    values = {"city": "Chicago", "link": f"https://{slug}.example", **fields}
    return Company.objects.create(name=name, **values)


def curate(query, pinned=(), hidden=()):
    """An editors' curation of ``query``: ``pinned`` company ids first, ``hidden`` never."""
    curation = Curation(query=query)
    curation.save()
    CurationPin.objects.bulk_create(
        CurationPin(curation=curation, company_id=pk, position=i) for i, pk in enumerate(pinned)
    )
    curation.hidden.set(hidden)
    return curation
