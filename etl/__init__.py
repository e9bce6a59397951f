"""Layer ETL: read, reproject, repair/validate, map schema, write to the store, report."""
