"""Big data from small: resumable Parquet shards with a manifest, and the generators
that fill them (tables, driving records, images)."""
