"""The integrations, one folder each: adapter.py (the vendor's request to canonical values and
the result back to the vendor's exact answer), view.py (thin: one of the two base views in
views.py) and schema.py (OpenAPI). contract.py states what an adapter provides; fields.py,
statuses.py and http.py are what the adapters share."""
