"""The sandbox page (GET /sandbox)."""
