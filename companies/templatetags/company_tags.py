"""Template filters for showing company records."""

from urllib.parse import urlsplit

from django import template

register = template.Library()


@register.filter
def web_url(url):
    """``url`` if it is an http(s) address, else "": a link never runs ``javascript:`` or the like.

    Forms and the import only accept http(s), but rows can be written by other means.
    """
    url = (url or "").strip()
    return url if urlsplit(url).scheme.lower() in ("http", "https") else ""


@register.filter
def website_label(url):
    """A website as people read it: ``https://www.acme.com/`` -> ``acme.com``."""
    parts = urlsplit((url or "").strip())
    host = (parts.hostname or "").removeprefix("www.")
    path = parts.path.rstrip("/")
    return f"{host}{path}" or url


@register.filter
def initial(name):
    """The first letter or digit of a name, for the logo placeholder."""
    return next((char.upper() for char in name or "" if char.isalnum()), "?")
