"""Who wrote each version of a question and when, and who retired it: the question's
history page shows them. Versions saved before this migration have no author; a later
version's time is known exactly (its predecessor's `retired_at`: an edit retires the old
row and creates the new one in one transaction), a first version's is not (left empty)."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


def versions_dated_by_their_predecessor(apps, schema_editor):
    Question = apps.get_model("courses", "Question")
    retired = Question.objects.filter(retired_at__isnull=False).values_list("pk", "origin_id", "version", "retired_at")
    for pk, origin_id, version, retired_at in retired.iterator():
        Question.objects.filter(origin_id=origin_id or pk, version=version + 1, created_at__isnull=True).update(
            created_at=retired_at
        )


class Migration(migrations.Migration):

    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ("courses", "0009_question_versions"),
    ]

    operations = [
        migrations.AddField(
            model_name="question",
            name="created_by",
            field=models.ForeignKey(
                blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="question",
            name="created_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="question",
            name="retired_by",
            field=models.ForeignKey(
                blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.RunPython(versions_dated_by_their_predecessor, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="question",
            name="created_at",
            field=models.DateTimeField(blank=True, default=django.utils.timezone.now, null=True),
        ),
    ]
