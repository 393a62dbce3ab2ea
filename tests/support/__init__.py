"""What the tests share, imported as `support.<module>` (pytest puts tests/ on sys.path; the
Worker harness mounts tests/ too, so support.clock and support.conformance also run inside the
Worker's Pyodide: keep this file free of imports).

- courses: `course` (small courses written into tmp_path, the example course), `small_course`,
  `insight`, `search`, `worker_course` (the courses of those test families);
- the app in process: `client` (Cohort, cohort, assert_error), `journey` (a learner's steps),
  `tally` (signed webhooks), `clock` (the fake clock and test secrets), `signin` (browsers
  opening sign-in links, an SMTP inbox);
- real processes: `launch` (Site: the one launcher of `python build.py serve`), `browser`
  (Chromium fixtures, a pytest plugin), `tus` (the node tus server, a pytest plugin),
  `wrangler` (local D1), `worker` (the Python Worker in the runtime's Pyodide), `standin`
  (stand-ins for services that cannot run here: an LRS, JSON APIs);
- the rules: `model`, `model_world`, `model_driver`, `model_requests`, `model_signin` (the
  reference model the hypothesis state machine checks the server against), `invariants` (one function per rule),
  `conformance` (one scenario for every storage backend), `schema` (a database's structure);
- `fuzz`: schemathesis' live server and seeds.
"""
