// POST /query with {"sql", "params"} or {"batch": [{"sql", "params"}, ...]}, answered in the
// envelope of Cloudflare's REST API (POST /accounts/{a}/d1/database/{id}/query). A batch runs
// through env.DB.batch(): one transaction, all statements or none.
const reply = (body, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

function failure(error, status = 400) {
  const text = String((error && error.cause && error.cause.message) || (error && error.message) || error);
  const message = text.replace(/^D1_ERROR:\s*/, "");
  return reply({ result: [], success: false, errors: [{ code: 7500, message }], messages: [] }, status);
}

function prepared(db, query) {
  if (!query || typeof query.sql !== "string") throw new Error("each query needs a string `sql`");
  const statement = db.prepare(query.sql);
  return Array.isArray(query.params) && query.params.length ? statement.bind(...query.params) : statement;
}

const shape = (result) => ({ results: result.results || [], success: result.success, meta: result.meta });

export default {
  async fetch(request, env) {
    if (new URL(request.url).pathname !== "/query") return failure("not found", 404);
    if (request.method !== "POST") return failure("POST only", 405);
    let body;
    try {
      body = await request.json();
    } catch (error) {
      return failure("body is not JSON");
    }
    try {
      if (Array.isArray(body.batch)) {
        const results = await env.DB.batch(body.batch.map((query) => prepared(env.DB, query)));
        return reply({ result: results.map(shape), success: true, errors: [], messages: [] });
      }
      const result = await prepared(env.DB, body).all();
      return reply({ result: [shape(result)], success: true, errors: [], messages: [] });
    } catch (error) {
      return failure(error);
    }
  },
};
