from django.db import migrations, models

import registry.models


class Migration(migrations.Migration):
    """The parcel page's token, in a migration of its own. Existing rows get "" (no token)
    rather than a value computed here: Django evaluates a callable default ONCE for an
    AddField, which would give every existing row the same token. They are given their own
    when their first label is printed (registry.services.parcel_token_ensure); the column's
    default gives every new row its token."""

    dependencies = [("registry", "0005_partition_assignments")]

    operations = [
        migrations.AddField(
            model_name="deliveryassignment",
            name="parcel_token",
            field=models.CharField(
                blank=True,
                db_index=True,
                default="",
                editable=False,
                max_length=32,
                verbose_name="parcel page token",
            ),
        ),
        migrations.AlterField(
            model_name="deliveryassignment",
            name="parcel_token",
            field=models.CharField(
                blank=True,
                db_index=True,
                default=registry.models.new_parcel_token,
                editable=False,
                max_length=32,
                verbose_name="parcel page token",
            ),
        ),
    ]
