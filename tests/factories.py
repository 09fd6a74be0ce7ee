from companies.models import Company


def make_company(name, **fields):
    """A company saved the normal way (signals fire), with a website derived from its name."""
    slug = "".join(ch for ch in name.lower() if ch.isalnum())
    values = {"city": "Chicago", "link": f"https://{slug}.example", **fields}
    return Company.objects.create(name=name, **values)
