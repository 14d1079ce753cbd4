# Joins the two 0010 leaves (breakout groups and the learning record) so the test
# database migrates; the lead may replace it when merging all leaves.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('live', '0010_breakouts'),
        ('live', '0010_learning_record'),
    ]

    operations = []
