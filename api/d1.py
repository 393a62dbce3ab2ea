"""D1 backends: over HTTP (Cloudflare's REST `query` contract) and through a Worker's binding."""

from __future__ import annotations

from typing import Any

from .storage import Conflict, DatabaseError, Result, Statement


class D1HttpDatabase:
    """D1 over HTTP, with the contract of Cloudflare's REST `query` endpoint.

    `url` is `{CLOUDFLARE_API_BASE}/accounts/<account>/d1/database/<id>/query` in production, or
    any server speaking the same contract (the conformance tests run one on wrangler's local
    D1). A batch is one request with `{"batch": [...]}`, which D1 runs as one transaction.
    """

    name = "d1-http"

    def __init__(self, url: str, token: str | None = None, timeout: float = 30.0) -> None:
        import httpx

        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.url = url
        self.client = httpx.AsyncClient(headers=headers, timeout=timeout)

    async def execute(self, statement: Statement) -> Result:
        return (await self._post({"sql": statement.sql, "params": list(statement.params)}))[0]

    async def batch(self, statements: list[Statement], wait: float | None = None) -> list[Result]:
        body = {"batch": [{"sql": s.sql, "params": list(s.params)} for s in statements]}
        results = await self._post(body)
        if len(results) != len(statements):
            raise DatabaseError(
                f"D1 answered {len(results)} results for {len(statements)} statements"
            )
        return results

    async def _post(self, body: dict[str, Any]) -> list[Result]:
        import httpx

        try:
            response = await self.client.post(self.url, json=body)
        except httpx.HTTPError as exc:
            raise DatabaseError(f"D1 is unreachable: {exc}") from exc
        try:
            data = response.json()
        except ValueError:
            raise DatabaseError(f"D1 answered {response.status_code} without JSON") from None
        if response.status_code >= 400 or not data.get("success", False):
            message = (
                "; ".join(str(e.get("message", e)) for e in data.get("errors") or [])
                or response.text
            )
            if "constraint failed" in message:
                raise Conflict(message)
            raise DatabaseError(f"D1 refused the query ({response.status_code}): {message}")
        return [_d1_result(item) for item in data.get("result") or []]

    async def check_writes(self, probe: Statement) -> None:
        """D1 reports its faults on each call: nothing to probe."""
        return None

    def lagging(self) -> D1HttpDatabase:
        """The REST API reads the primary: itself."""
        return self

    async def close(self) -> None:
        await self.client.aclose()


def _d1_result(item: dict[str, Any]) -> Result:
    """One entry of D1's `result` array: {results, success, meta}."""
    meta = item.get("meta") or {}
    return Result(
        rows=list(item.get("results") or []),
        changes=int(meta.get("changes") or 0),
        last_row_id=meta.get("last_row_id"),
        duration_ms=float(meta.get("duration") or 0.0),
        rows_read=meta.get("rows_read"),
        rows_written=meta.get("rows_written"),
    )


class D1BindingDatabase:
    """D1 through the Worker's binding (`env.DB`), from Python via Pyodide's JavaScript bridge.

    `prepare(sql).bind(...params).all()` answers `{results, success, meta}`, the same shape as
    one entry of the REST contract; `batch([...])` runs the statements as one transaction.
    The SDK hands the binding wrapped (its `_BindingWrapper`, which converts every argument
    and answer); the adapter talks to the JavaScript object underneath and converts once:
    Python None goes out as JavaScript null, and SQL NULL comes back as `pyodide.ffi.jsnull`
    (workerd does not set Pyodide's `convertNullToNone`), which it turns into None.
    """

    name = "d1"
    LAG = "first-unconstrained"  # a session's first read from any replica, however far behind

    def __init__(self, binding: Any, unwrapped: bool = False) -> None:
        if unwrapped:  # a JavaScript object already (a session of the binding)
            self.binding = binding
            return
        from workers import python_to_rpc  # the Workers runtime only: unwraps SDK wrappers

        self.binding = python_to_rpc(binding)

    def lagging(self) -> D1BindingDatabase:
        """A D1 session (`withSession`) for this request's lag-tolerant reads: with read
        replication on, D1 may serve them from a nearby replica, seconds behind; without it,
        from the primary, as any read. A session per call: no bookmark is carried on."""
        return D1BindingDatabase(self.binding.withSession(self.LAG), unwrapped=True)

    async def execute(self, statement: Statement) -> Result:
        result = await self._call(self._prepared(statement).all())
        return _binding_result(result)

    async def batch(self, statements: list[Statement], wait: float | None = None) -> list[Result]:
        from pyodide.ffi import to_js  # the Workers runtime only

        prepared = to_js([self._prepared(s) for s in statements])
        results = await self._call(self.binding.batch(prepared))
        return [_binding_result(item) for item in results]

    async def check_writes(self, probe: Statement) -> None:
        """D1 reports its faults on each call: nothing to probe."""
        return None

    def _prepared(self, statement: Statement) -> Any:
        prepared = self.binding.prepare(statement.sql)
        return (
            prepared.bind(*(_js_value(p) for p in statement.params))
            if statement.params
            else prepared
        )

    async def _call(self, awaitable: Any) -> Any:
        from pyodide.ffi import JsException  # the Workers runtime only

        try:
            return await awaitable
        except JsException as exc:
            message = str(exc).replace("D1_ERROR: ", "")
            if "constraint failed" in message:
                raise Conflict(message) from None
            raise DatabaseError(f"D1 refused the query: {message}") from None


def _js_value(value: Any) -> Any:
    """Python None must reach D1 as JavaScript null (Pyodide would send undefined)."""
    if value is None:
        from pyodide.ffi import jsnull  # the Workers runtime only

        return jsnull
    return value


def _binding_result(result: Any) -> Result:
    """One D1 result object (a JsProxy) as a Result, SQL NULL as None."""
    from pyodide.ffi import jsnull  # the Workers runtime only

    rows = [
        {key: None if value is jsnull else value for key, value in row.items()}
        for row in result.results.to_py()
    ]
    meta = result.meta
    return Result(
        rows=rows,
        changes=_count(meta.changes) or 0,
        last_row_id=_count(meta.last_row_id),
        duration_ms=float(meta.duration) if isinstance(meta.duration, int | float) else 0.0,
        rows_read=_count(meta.rows_read),
        rows_written=_count(meta.rows_written),
    )


def _count(value: Any) -> int | None:
    """A number of D1's `meta`; null (jsnull) or absent as None."""
    return int(value) if isinstance(value, int | float) else None
