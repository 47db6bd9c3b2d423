"""Results people can send: CSV, Parquet and the HTML report of a batch."""
