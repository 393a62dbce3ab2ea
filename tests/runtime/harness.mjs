// The staged Python Worker run as Cloudflare's runtime runs it, offline, behind an HTTP port.
//
// Real: the runtime's own Pyodide (npm `pyodide`, the version the pinned workerd loads), the
// Workers Python SDK the staged Worker vendors (`workers-runtime-sdk` in its python_modules/),
// D1 (Miniflare's, the engine `wrangler d1 ... --local` uses, migrated by wrangler) and the
// static assets (Miniflare's asset worker, Cloudflare's own code: html_handling, 404 page).
//
// STAND-INS, for what only exists inside workerd (the README's Deployment section says what
// this proves and what it cannot):
//   - the runtime's two internal JS modules the SDK imports, `_cloudflare_compat_flags` and
//     `_pyodide_entrypoint_helper` (the compatibility flags, `cloudflare:workers` with
//     `waitUntil`, `patchWaitUntil`);
//   - workerd's call path (src/pyodide/python-entrypoint-helper.ts + internal/introspection.py):
//     a fresh `Default(ctx, env)` per request, `fetch`/`scheduled` called through
//     `python_from_rpc` on the arguments and `python_to_rpc` on the answer (entry.py);
//   - the bindings' JS class names: workerd hands Python a `D1Database` (its `withSession`
//     a `D1DatabaseSession`) and a `Fetcher`; Node
//     reaches Miniflare's through proxies with no such names, so thin classes of those names
//     forward every call (the SDK then wraps them exactly as it wraps the real ones);
//   - workerd's Response accepts an empty body with a null-body status (it warns); Node's
//     undici throws, so `Response` drops such a body as workerd does;
//   - Cloudflare's router: paths matching `run_worker_first` reach the Worker, others the
//     assets (the same rule the edge applies).
// Nothing here changes what Python code sees of those objects beyond their real shape.
//
// Usage: node harness.mjs CONFIG.json   (printed once ready: `listening <port>`)
// CONFIG: {modules, main, sitePackages?, persist, databases, site, port, vars, compatibilityDate,
//          compatibilityFlags, runWorkerFirst, notFoundHandling, htmlHandling, pyodide}
// Test-only routes (never on Cloudflare): POST /__harness/scheduled runs the cron trigger,
// POST /__harness/python runs a module's `main(env)` coroutine inside the Worker's Python,
// GET /__harness/stats answers timings.

import { readFileSync } from "node:fs";
import http from "node:http";
import { performance } from "node:perf_hooks";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { Miniflare } from "miniflare";
import { loadPyodide } from "pyodide";

const here = path.dirname(fileURLToPath(import.meta.url));
const config = JSON.parse(readFileSync(process.argv[2], "utf8"));

// -- workerd's Response on null-body statuses ------------------------------------------------
const NULL_BODY = new Set([101, 103, 204, 205, 304]);
const NodeResponse = globalThis.Response;
class Response extends NodeResponse {
  constructor(body, init) {
    const status = init && typeof init === "object" ? init.status : undefined;
    if (NULL_BODY.has(status) && body != null && isEmpty(body)) body = null;
    super(body, init);
  }
}
function isEmpty(body) {
  if (typeof body === "string") return body.length === 0;
  if (body instanceof ArrayBuffer) return body.byteLength === 0;
  if (ArrayBuffer.isView(body)) return body.byteLength === 0;
  return false;
}
globalThis.Response = Response;

// -- the bindings, under the class names workerd gives them ---------------------------------
// In workerd, prepare() and bind() only build an object; the query runs on all()/run()/
// first()/raw()/batch(). Miniflare's proxy makes each of its calls a synchronous round trip to
// its workerd, so the statement is handed to it only when it runs (and that time is D1's).
class D1PreparedStatement {
  constructor(db, sql, values = []) {
    this.db = db;
    this.sql = sql;
    this.values = values;
  }
  bind(...values) {
    return new D1PreparedStatement(this.db, this.sql, values);
  }
  real() {
    const prepared = this.db.real.prepare(this.sql);
    return this.values.length ? prepared.bind(...this.values) : prepared;
  }
  all() {
    return meter.d1(() => this.real().all(), 1, this.db.session);
  }
  run() {
    return meter.d1(() => this.real().run(), 1, this.db.session);
  }
  first(column) {
    const first = () => (column === undefined ? this.real().first() : this.real().first(column));
    return meter.d1(first, 1, this.db.session);
  }
  raw(options) {
    return meter.d1(() => this.real().raw(options), 1, this.db.session);
  }
}

class D1Database {
  constructor(real) {
    this.real = real;
    this.session = false;
  }
  // D1's Sessions API: Miniflare's binding has it (one D1, no replica: every read is the
  // primary's); the session is wrapped like the database, its calls metered as sessionCalls.
  withSession(constraint) {
    return new D1DatabaseSession(this.real.withSession(constraint));
  }
  prepare(sql) {
    return new D1PreparedStatement(this, sql);
  }
  async batch(statements) {
    const list = Array.from(statements, (s) => {
      if (!(s instanceof D1PreparedStatement)) {
        throw new TypeError("D1_TYPE_ERROR: batch() takes D1PreparedStatement objects");
      }
      return s;
    });
    return meter.d1(() => this.real.batch(list.map((s) => s.real())), list.length, this.session);
  }
  exec(sql) {
    return meter.d1(() => this.real.exec(sql), 1);
  }
}

class D1DatabaseSession extends D1Database {
  constructor(real) {
    super(real);
    this.session = true;
  }
  withSession() {
    throw new TypeError("withSession() is D1Database's, not a session's");
  }
  getBookmark() {
    return this.real.getBookmark();
  }
}

class Fetcher {
  constructor(real) {
    this.real = real;
  }
  async fetch(input, init) {
    // Miniflare's proxy takes its own Request class: hand it the parts. A request whose
    // redirect mode is "follow" (the default for one the Worker makes) is followed, as
    // workerd's fetch does; the Worker's incoming requests are "manual".
    const request = new Request(input, init);
    const body = ["GET", "HEAD"].includes(request.method) ? undefined : await request.arrayBuffer();
    let url = request.url;
    let answer;
    for (let hops = 0; ; hops++) {
      answer = await this.real.fetch(url, {
        method: request.method,
        headers: [...request.headers],
        body,
        redirect: "manual",
      });
      const location = answer.headers.get("location");
      if (request.redirect !== "follow" || !location || answer.status < 300 || answer.status > 399 || hops >= 20) break;
      await answer.arrayBuffer();
      url = new URL(location, url).href;
    }
    const bytes = await answer.arrayBuffer();
    return new Response(NULL_BODY.has(answer.status) ? null : bytes, {
      status: answer.status,
      headers: [...answer.headers],
    });
  }
}

// -- what a request costs ----------------------------------------------------------------
const meter = {
  calls: 0,
  statements: 0,
  waited: 0,
  rowsRead: 0,
  rowsWritten: 0,
  sessionCalls: 0,
  async d1(run, statements, session = false) {
    this.calls += 1;
    if (session) this.sessionCalls += 1;
    this.statements += statements;
    const started = performance.now();
    try {
      const result = await run(); // a sync throw (a bad statement) rejects, as in workerd
      for (const one of Array.isArray(result) ? result : [result]) {
        this.rowsRead += one?.meta?.rows_read ?? 0;
        this.rowsWritten += one?.meta?.rows_written ?? 0;
      }
      return result;
    } finally {
      this.waited += performance.now() - started;
    }
  },
};

// -- start: D1 + assets (Miniflare), then Pyodide with the staged Worker --------------------
const started = performance.now();
const mf = new Miniflare({
  modules: true,
  script: "export default { fetch() { return new Response(null, { status: 404 }) } }",
  compatibilityDate: config.compatibilityDate,
  d1Databases: config.databases, // { binding: database_id }: DB, and a cohort's DB_<NAME>
  d1Persist: path.join(config.persist, "v3", "d1"),
  assets: {
    directory: config.site,
    binding: "ASSETS",
    routerConfig: { has_user_worker: true },
    assetConfig: {
      html_handling: config.htmlHandling,
      not_found_handling: config.notFoundHandling,
    },
  },
});
const bindings = await mf.getBindings();
const env = { ...config.vars };
for (const binding of Object.keys(config.databases)) {
  env[binding] = new D1Database(bindings[binding]);
}
env.ASSETS = new Fetcher(bindings.ASSETS);

const pending = new Set();
function waitUntil(promise) {
  const settled = Promise.resolve(promise).catch((error) => console.error("waitUntil:", error));
  pending.add(settled);
  settled.finally(() => pending.delete(settled));
}
const cloudflareWorkers = { env, waitUntil };
const flags = Object.fromEntries(config.compatibilityFlags.map((flag) => [flag, true]));

const pyodide = await loadPyodide({
  indexURL: config.pyodide,
  packageBaseUrl: "http://packages.invalid/", // the runtime loads no package: fail loudly
  stdout: (line) => console.log(line),
  stderr: (line) => console.error(line),
});
const pyodideReady = performance.now();
pyodide.registerJsModule("_cloudflare_compat_flags", flags);
pyodide.registerJsModule("_pyodide_entrypoint_helper", {
  doAnImport: (name) => import(name),
  cloudflareWorkersModule: cloudflareWorkers,
  cloudflareSocketsModule: {},
  workerEntrypoint: class WorkerEntrypoint {},
  patchWaitUntil: () => {},
  patch_env_helper: () => [],
});
// The uploaded modules, mounted where workerd mounts them.
pyodide.FS.mkdirTree("/session/metadata");
pyodide.FS.mount(pyodide.FS.filesystems.NODEFS, { root: config.modules }, "/session/metadata");
pyodide.FS.mkdirTree("/harness");
pyodide.FS.mount(pyodide.FS.filesystems.NODEFS, { root: here }, "/harness");
if (config.pythonPath) {
  pyodide.FS.mkdirTree("/harness-extra");
  pyodide.FS.mount(pyodide.FS.filesystems.NODEFS, { root: config.pythonPath }, "/harness-extra");
}
const entry = pyodide.runPython(`
import sys
sys.path.insert(0, "/harness")
import entry
entry.setup(${JSON.stringify(config.main)}, ${JSON.stringify(config.pythonPath ? "/harness-extra" : "")})
entry
`);
const imported = await entry.load_main();
const workerReady = performance.now();
console.error(
  `pyodide ${pyodide.version} ready in ${(pyodideReady - started).toFixed(0)} ms; ` +
    `worker imported in ${(workerReady - pyodideReady).toFixed(0)} ms`,
);

// -- the edge: run_worker_first to the Worker, the rest to the assets --------------------
function matches(pattern, pathname) {
  const expression = "^" + pattern.split("*").map(escape).join(".*") + "$";
  return new RegExp(expression).test(pathname);
}
function escape(text) {
  return text.replace(/[.+?^${}()|[\]\\]/g, "\\$&");
}

const timings = [];
async function callWorker(method, args) {
  const ctx = { waitUntil, passThroughOnException() {} };
  const before = { ...meter };
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const answer = await entry.call(method, ctx, env, ...args);
  const cpu = process.cpuUsage(cpu0);
  const total = performance.now() - t0;
  timings.push({
    method,
    total,
    cpu: (cpu.user + cpu.system) / 1000,
    d1: meter.waited - before.waited,
    d1Calls: meter.calls - before.calls,
    statements: meter.statements - before.statements,
    rowsRead: meter.rowsRead - before.rowsRead,
    rowsWritten: meter.rowsWritten - before.rowsWritten,
    sessionCalls: meter.sessionCalls - before.sessionCalls,
    path: method === "fetch" ? new URL(args[0].url).pathname : method,
  });
  return answer;
}

async function answer(request) {
  const url = new URL(request.url);
  if (url.pathname === "/__harness/stats") {
    return Response.json({ startup: { pyodide: pyodideReady - started, worker: workerReady - pyodideReady }, timings: timings.splice(0) });
  }
  if (url.pathname === "/__harness/scheduled") {
    await callWorker("scheduled", [{ cron: "* * * * *", scheduledTime: Date.now(), noRetry() {} }]);
    await Promise.all([...pending]);
    return new Response(null, { status: 204 });
  }
  if (url.pathname === "/__harness/python") {
    const { module, argument } = await request.json();
    const result = await entry.run_module(module, env, argument ?? "");
    return new Response(result, { headers: { "content-type": "application/json" } });
  }
  if (config.runWorkerFirst.some((pattern) => matches(pattern, url.pathname))) {
    return callWorker("fetch", [request]);
  }
  return env.ASSETS.fetch(request);
}

const server = http.createServer(async (incoming, outgoing) => {
  try {
    const chunks = [];
    for await (const chunk of incoming) chunks.push(chunk);
    const body = Buffer.concat(chunks);
    const headers = new Headers();
    for (let i = 0; i < incoming.rawHeaders.length; i += 2) {
      headers.append(incoming.rawHeaders[i], incoming.rawHeaders[i + 1]);
    }
    headers.set("cf-connecting-ip", incoming.socket.remoteAddress.replace(/^::ffff:/, ""));
    const url = `http://${incoming.headers.host}${incoming.url}`;
    const request = new Request(url, {
      method: incoming.method,
      headers,
      body: ["GET", "HEAD"].includes(incoming.method) ? undefined : body,
      redirect: "manual",
    });
    const response = await answer(request);
    const out = {};
    for (const [name, value] of response.headers) {
      if (name === "set-cookie") continue;
      out[name] = value;
    }
    const cookies = response.headers.getSetCookie();
    if (cookies.length) out["set-cookie"] = cookies;
    const bytes = Buffer.from(await response.arrayBuffer());
    delete out["content-length"];
    delete out["transfer-encoding"];
    outgoing.writeHead(response.status, out);
    outgoing.end(bytes);
  } catch (error) {
    // workerd answers an uncaught exception with a bare 500: so do we, and say why.
    console.error("uncaught exception in the Worker:", error);
    outgoing.writeHead(500, { "content-type": "text/plain" });
    outgoing.end("Worker threw exception");
  }
});
server.listen(config.port, "127.0.0.1", () => {
  console.log(`listening ${server.address().port}`);
});
const stop = async () => {
  server.close();
  await mf.dispose();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
