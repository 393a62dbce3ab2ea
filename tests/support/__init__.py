"""What the tests share: courses written into tmp_path, the in-process client, the one launcher
of a real server, Chromium, wrangler, the Worker runtime, and the reference model of the rules.

Imported as `support.<module>` (pytest puts tests/ on sys.path; the Worker harness mounts
tests/ too, so support.clock and support.conformance also run inside the Worker's Pyodide:
keep this file free of imports).
"""
