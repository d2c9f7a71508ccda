"""Plain HTTP clients of the vendor APIs (no Celery here): one module per vendor,
`vendors.errors` for the error tree, `vendors.http` for the shared transport mapping."""
