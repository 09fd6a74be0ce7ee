from django.db import migrations, models

from companies.models import text_key


def fill_name_text(apps, schema_editor):
    Company = apps.get_model("companies", "Company")
    for company in Company.objects.only("pk", "name").iterator(chunk_size=1000):
        Company.objects.filter(pk=company.pk).update(name_text=text_key(company.name)[:800])


class Migration(migrations.Migration):
    dependencies = [("companies", "0003_admin_jobs")]

    operations = [
        migrations.AddField(
            model_name="company",
            name="name_text",
            field=models.CharField(
                blank=True,
                db_index=True,
                editable=False,
                help_text="The name as suggestions match it (text_key): case, accents' encoding "
                "and width do not matter.",
                max_length=800,
            ),
        ),
        migrations.RunPython(fill_name_text, migrations.RunPython.noop),
    ]
