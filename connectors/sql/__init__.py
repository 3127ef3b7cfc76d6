"""SQL data sources (`kind: sql`): the connector, its read-only layers and its schema tools."""
