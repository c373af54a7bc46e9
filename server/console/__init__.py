"""The staff web console: server-rendered Chinese pages over the same services and scoping as the API."""
