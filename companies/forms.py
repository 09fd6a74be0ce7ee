from django import forms
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.template.defaultfilters import filesizeformat

from .importing import ImportFileError, decode
from .models import MAX_ID, Company


class UploadLimitHandler(FileUploadHandler):
    """Stops reading an uploaded file past ``limit`` bytes, so an oversized one is never stored.

    Goes first in ``request.upload_handlers``; the chunks it lets through go on to Django's own
    handlers. The rest of an oversized request is read and dropped, so the browser gets the answer.
    """

    def __init__(self, request, limit):
        super().__init__(request)
        self.limit = limit
        self.exceeded = False

    def receive_data_chunk(self, raw_data, start):
        if start + len(raw_data) > self.limit:
            self.exceeded = True
            raise StopUpload(connection_reset=False)
        return raw_data

    def file_complete(self, file_size):
        return None  # the next handler makes the file


class ImportFileForm(forms.Form):
    file = forms.FileField(
        label="Startups data file",
        help_text=(
            "JSON lines, or a JSON array of objects with name, images, alt, description, link "
            "and city, and optionally searchable (true or false). UTF-8."
        ),
        widget=forms.ClearableFileInput(attrs={"accept": ".json,.jsonl,.ndjson,.txt"}),
    )

    def __init__(self, *args, upload_limit, **kwargs):
        super().__init__(*args, **kwargs)
        self.upload_limit = upload_limit

    def too_large_message(self):
        limit = filesizeformat(self.upload_limit.limit)
        return f"The file is larger than {limit}: nothing was imported."

    def clean(self):
        cleaned_data = super().clean()
        if self.upload_limit.exceeded:
            # The file was dropped unread; say why rather than "this field is required".
            self.errors.pop("file", None)
            self.add_error(
                "file", forms.ValidationError(self.too_large_message(), code="too_large")
            )
        return cleaned_data

    def clean_file(self):
        """The file's bytes, once the checks that need no parsing pass (size, UTF-8, not blank).

        The rest (JSON, rows) is the import job's: parsing a large file is long work.
        """
        upload = self.cleaned_data["file"]
        if upload.size > self.upload_limit.limit:
            raise forms.ValidationError(self.too_large_message(), code="too_large")
        data = upload.read()
        try:
            if not decode(data).strip():
                raise ImportFileError("The file is empty.")
        except ImportFileError as exc:
            raise forms.ValidationError(f"{exc} Nothing was imported.", code="unreadable") from None
        return data


class HttpsURLField(forms.URLField):
    def __init__(self, **kwargs):
        super().__init__(**{**kwargs, "assume_scheme": "https"})


class CompanyAdminForm(forms.ModelForm):
    """The admin's company form; it carries the version of the record it was opened at.

    A save is refused when the record changed since (another editor, the API, an import), so
    nobody overwrites a change they have not seen. The model makes the final check, in the
    UPDATE itself (``Company.save(expected_version=...)``); this one gives the usual case a form
    error with the editor's input kept.
    """

    opened_version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    class Meta:
        model = Company
        fields = ["name", "slug", "city", "description", "tags", "link", "image_url", "searchable"]
        # A website typed without a scheme is taken as https://.
        field_classes = {"link": HttpsURLField, "image_url": HttpsURLField}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["opened_version"].initial = self.instance.version

    def clean(self):
        cleaned_data = super().clean()
        opened = cleaned_data.get("opened_version")
        if self.instance.pk and opened is not None:
            current = (
                Company.objects.filter(pk=self.instance.pk)
                .values_list("version", flat=True)
                .first()
            )
            if current is not None and current != opened:
                raise forms.ValidationError(STALE_MESSAGE, code="stale")
        return cleaned_data


STALE_MESSAGE = (
    "This company was changed by someone else since you opened it, so your changes were not "
    "saved. Open it again to see the current version, then make your changes there."
)


def typed_id(text):
    """The row id ``text`` names (``" 42"`` is 42), or None if it can be none: ASCII digits
    only ("²" passes ``isdigit``, not ``int``) and within any database's id range."""
    text = text.strip()
    if not (text.isascii() and text.isdigit() and len(text) <= len(str(MAX_ID))):
        return None
    number = int(text)
    return number if 0 < number <= MAX_ID else None


class CompanyIdsField(forms.ModelMultipleChoiceField):
    """Companies by the ids typed in a raw-id box: text that is no id is refused as such, never
    handed to the database (an id past its range is an error there, not a miss)."""

    def _check_values(self, value):
        for pk in value:
            if typed_id(str(pk)) is None:
                raise forms.ValidationError(
                    self.error_messages["invalid_pk_value"],
                    code="invalid_pk_value",
                    params={"pk": str(pk)[:40]},
                )
        return super()._check_values(value)
