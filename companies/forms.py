from django import forms
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.template.defaultfilters import filesizeformat


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
            "and city (UTF-8)."
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
        upload = self.cleaned_data["file"]
        if upload.size > self.upload_limit.limit:
            raise forms.ValidationError(self.too_large_message(), code="too_large")
        return upload
