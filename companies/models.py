from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse
from django.utils.text import slugify


def website_key(link):
    """The natural key of a company: its website without scheme, ``www.`` or trailing slash.

    ``http://www.acme.com/`` and ``https://acme.com`` are the same company, so a re-import of a
    file whose links changed scheme updates instead of duplicating.
    """
    if not link:
        return None
    parts = urlsplit(link.strip())
    host = (parts.hostname or "").lower().removeprefix("www.")
    path = parts.path.rstrip("/")
    return f"{host}{path}" or None


def normalize_city(city):
    """The value cities are filtered and counted by: case and spacing do not matter."""
    return " ".join(city.split()).casefold()


def name_key(name):
    """A name as people type it: "Trunk Club", "trunkclub" and "Trunk-Club" are the same."""
    return "".join(ch for ch in name.casefold() if ch.isalnum())


class IndexStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    INDEXED = "indexed", "Indexed"
    FAILED = "failed", "Failed"


class Company(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=220, unique=True, help_text="Used in the company's URL.")
    description = models.TextField(blank=True)
    city = models.CharField(max_length=100, blank=True, db_index=True)
    image_url = models.URLField("logo URL", max_length=500, blank=True)
    link = models.URLField("website", max_length=500, blank=True)
    tags = models.CharField(
        max_length=500, blank=True, help_text="Markets and keywords, separated by spaces."
    )
    website_key = models.CharField(
        max_length=500, unique=True, null=True, editable=False,
        help_text="Website without scheme or www.: identifies the company on re-import.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # What the search index holds for this record. Written by the indexer only.
    index_status = models.CharField(
        max_length=10, choices=IndexStatus.choices, default=IndexStatus.PENDING, editable=False,
        db_index=True,
    )
    indexed_at = models.DateTimeField(null=True, blank=True, editable=False)
    indexed_hash = models.CharField(max_length=64, blank=True, editable=False)
    index_error = models.TextField(blank=True, editable=False)

    class Meta:
        ordering = ["name", "id"]
        verbose_name_plural = "companies"

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("companies:detail", kwargs={"slug": self.slug})

    def clean(self):
        super().clean()
        key = website_key(self.link)
        if key and Company.objects.filter(website_key=key).exclude(pk=self.pk).exists():
            raise ValidationError({"link": "Another company already has this website."})
        if not self.slug and self.name:
            self.slug = unique_slug(self.name, exclude_pk=self.pk)

    def save(self, *args, **kwargs):
        self.website_key = website_key(self.link)
        if not self.slug:
            self.slug = unique_slug(self.name, exclude_pk=self.pk)
        if kwargs.get("update_fields") is not None:
            kwargs["update_fields"] = {*kwargs["update_fields"], "website_key", "slug"}
        super().save(*args, **kwargs)


def unique_slug(name, exclude_pk=None):
    """A slug for ``name`` that no other company has."""
    base = slugify(name)[:200] or "company"
    taken = Company.objects.filter(slug__startswith=base).exclude(pk=exclude_pk)
    return free_slug(name, set(taken.values_list("slug", flat=True)))


def free_slug(name, taken):
    """The slug of ``name``, suffixed -2, -3… until it is not in ``taken``."""
    base = slugify(name)[:200] or "company"
    slug, n = base, 2
    while slug in taken:
        slug, n = f"{base}-{n}", n + 1
    return slug
