"""DeliveryAssignment becomes a table partitioned by creation day on PostgreSQL.

SQLite (the embedded default) keeps its plain table: this migration does nothing there, and
the model's state does not change, so later migrations on this model are the ones Django
writes. What the PostgreSQL table gains and loses, and why: registry/partitions.py.

On an existing database the rows are copied into day partitions under an exclusive lock:
plan a maintenance window for a large table (docs/deploy.md)."""

from django.db import migrations

from registry import partitions

T = partitions.PARENT
OLD = f"{T}_unpartitioned"


def partition(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "postgresql" or partitions.is_partitioned(connection):
        return
    with connection.cursor() as cursor:
        cursor.execute(f'LOCK TABLE "{T}" IN ACCESS EXCLUSIVE MODE')
        # What the plain table has that the partitioned one must get back under the same
        # names: its non-unique indexes (those of foreign keys, and any a later migration
        # added first) and its foreign keys. Unique ones cannot exist on the parent.
        cursor.execute(
            "SELECT c.relname, pg_get_indexdef(i.indexrelid), i.indisunique "
            "FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE i.indrelid = %s::regclass",
            [T],
        )
        indexes = cursor.fetchall()
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = %s::regclass AND contype = 'f'",
            [T],
        )
        foreign_keys = cursor.fetchall()
        cursor.execute(
            "SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass "
            "AND contype IN ('p', 'u', 'f')",
            [T],
        )
        for (name,) in cursor.fetchall():
            cursor.execute(f'ALTER TABLE "{T}" DROP CONSTRAINT "{name}"')
        for name, _definition, _unique in indexes:
            cursor.execute(f'DROP INDEX IF EXISTS "{name}"')
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) + 1 FROM \"{T}\"")
        (next_id,) = cursor.fetchone()
        # PostgreSQL 15 has no identity columns on partitioned tables: a sequence instead,
        # owned by the column so that Django's sequence resets still find it.
        cursor.execute(f'ALTER TABLE "{T}" ALTER COLUMN id DROP IDENTITY IF EXISTS')
        cursor.execute(f'ALTER TABLE "{T}" RENAME TO "{OLD}"')
        cursor.execute(
            f'CREATE TABLE "{T}" (LIKE "{OLD}" INCLUDING DEFAULTS INCLUDING CONSTRAINTS) '
            "PARTITION BY RANGE (created_at)"
        )
        cursor.execute(f'CREATE SEQUENCE "{T}_id_seq" START WITH {int(next_id)}')
        cursor.execute(f'ALTER SEQUENCE "{T}_id_seq" OWNED BY "{T}".id')
        cursor.execute(f"ALTER TABLE \"{T}\" ALTER COLUMN id SET DEFAULT nextval('{T}_id_seq')")
        # The primary key must include the partition key; ids stay unique by the sequence.
        cursor.execute(f'ALTER TABLE "{T}" ADD CONSTRAINT "{T}_pkey" PRIMARY KEY (id, created_at)')
        for _name, definition, unique in indexes:
            if not unique:
                cursor.execute(definition)  # "ON public.<T>": now the partitioned parent
        for name, definition in foreign_keys:
            cursor.execute(f'ALTER TABLE "{T}" ADD CONSTRAINT "{name}" {definition}')
        cursor.execute(
            f"SELECT DISTINCT (created_at AT TIME ZONE %s)::date FROM \"{OLD}\"",
            [partitions.settings.TIME_ZONE],
        )
        days = [day for (day,) in cursor.fetchall()]
    partitions.ensure(days, connection)
    partitions.ensure_ahead(connection)
    with connection.cursor() as cursor:
        cursor.execute(f'INSERT INTO "{T}" SELECT * FROM "{OLD}"')
        cursor.execute(f'DROP TABLE "{OLD}"')


class Migration(migrations.Migration):
    dependencies = [
        ("registry", "0004_staff_import"),
    ]

    operations = [
        # Backwards: the partitioned table serves the same model state, so nothing to undo.
        migrations.RunPython(partition, migrations.RunPython.noop, elidable=False),
    ]
