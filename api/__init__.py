"""Sillon's learning API: a Starlette app over SQLite (locally) or D1 (on Cloudflare)."""
