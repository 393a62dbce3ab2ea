"""The local server (`python build.py serve`): the build and the API in one process.

The one place that composes `builder` (rebuilds on every edit) and `api` (on a SQLite file), and
serves site/ as Cloudflare's static assets would, behind the same gate as the Worker.
"""
