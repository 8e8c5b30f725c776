"""Durable state: schema, migrations, prepared statements and one repository per family."""
