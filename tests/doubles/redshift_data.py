"""HTTP test double of the Amazon Redshift Data API (awsJson1_1), stdlib only.

Imitates what a client sees on the wire: `POST /` with `X-Amz-Target:
RedshiftData.<Op>`, SigV4 `Authorization` for service `redshift-data`, PascalCase
JSON bodies, epoch-second timestamps, lower-case UUID statement ids (batch
sub-statements `<id>:1`, `<id>:2`, ...), statuses SUBMITTED -> PICKED -> STARTED
-> FINISHED | FAILED | ABORTED, and awsJson errors (HTTP 400, `x-amzn-ErrorType`,
body `{"__type", "message"}`). Implements ExecuteStatement,
BatchExecuteStatement, DescribeStatement, CancelStatement (cancelling a
statement that already ended is a ValidationException, as in the real service)
and GetStatementResult (`Records` of typed fields such as `{"longValue": 3}`,
lower-camelCase `ColumnMetadata`, `TotalNumRows`; asking before FINISHED or for
a statement without a result set is a ValidationException).

Deliberate differences: no SQL is executed and nothing is connected to; a
statement advances one status per DescribeStatement instead of by wall-clock
time; failures happen only where the test scripts them (POST /_control); the
signature is checked for shape (algorithm and credential scope), not
cryptographically; only a single (non-batch) statement whose SQL starts with
SELECT has a result set (HasResultSet true, ResultRows = number of scripted
rows once finished) -- everything else has HasResultSet false and ResultRows 0
when finished; every SELECT returns the same scripted rows, all in one page (no
NextToken), with column metadata guessed from the first row's value types (one
column is named `count`, several `col1`, `col2`, ...); sub-statement ids cannot
be described or fetched on their own; sessions, parameters, events, CSV results
and WaitTimeSeconds are not supported.

Test-only endpoints (plain HTTP, unsigned): POST /_control, GET /_requests,
POST /_reset. /_control takes a JSON object that replaces the whole behaviour
(fields left out get their defaults; see DEFAULT_BEHAVIOUR); it is copied into
each statement when submitted: `fail_on` (substring of the SQL that fails) and
`error`, `never_finish`, `polls_before_finish`, and `result_rows` (the SELECT
result: a list of rows, each a list of plain JSON values; int, float, str, bool
and null become longValue, doubleValue, stringValue, booleanValue and isNull).
Run: `python3 redshift_data.py --port 0`; prints `PORT <n>`.
"""
import argparse
import json
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

JSON_TYPE = "application/x-amz-json-1.1"
MAX_SQL_BYTES = 100 * 1024
DEFAULT_BEHAVIOUR = {"fail_on": None, "error": 'ERROR: syntax error at or near "x"',
                     "never_finish": False, "polls_before_finish": 2, "result_rows": [[0]]}
PROGRESS = ["SUBMITTED", "PICKED", "STARTED"]
TERMINAL = {"FINISHED", "FAILED", "ABORTED"}
NO_RESULT = "Query does not have result. Please check query status with DescribeStatement."
# Python type of a scripted cell -> (Field member, typeName, precision, scale, isSigned,
# isCaseSensitive), roughly what Redshift reports for bool, int8, float8 and varchar columns.
CELL_TYPES = [(bool, "booleanValue", "bool", 1, 0, False, False),
              (int, "longValue", "int8", 19, 0, True, False),
              (float, "doubleValue", "float8", 17, 17, True, False),
              (str, "stringValue", "varchar", 256, 0, False, True)]

lock = threading.Lock()
state = {"requests": [], "behaviour": dict(DEFAULT_BEHAVIOUR), "statements": {}}


def now():
    return round(time.time(), 3)  # epoch seconds with millisecond precision, as AWS sends


class ApiError(Exception):
    def __init__(self, kind, message, **extra):
        super().__init__(message)
        self.kind, self.message, self.extra = kind, message, extra


def cell_type(value):
    """The CELL_TYPES entry for a scripted cell (None for JSON null; bool before int)."""
    for entry in CELL_TYPES:
        if isinstance(value, entry[0]):
            return entry
    return None


def check_rows(rows):
    """Why /_control's `result_rows` is unusable, or None if it is fine."""
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        return "result_rows must be a list of rows, each a list of cells"
    for row in rows:
        for cell in row:
            if cell is not None and cell_type(cell) is None:
                return f"result_rows: unsupported cell {cell!r} (use int, float, str, bool or null)"
    return None


def field(value):
    """A scripted cell as a Redshift Data API Field, e.g. 3 -> {"longValue": 3}."""
    entry = cell_type(value)
    return {"isNull": True} if entry is None else {entry[1]: value}


def column_metadata(first_row):
    """ColumnMetadata for the scripted rows, from the types of the first row's cells."""
    columns = []
    for i, value in enumerate(first_row):
        name = "count" if len(first_row) == 1 else f"col{i + 1}"
        _, _, type_name, precision, scale, signed, case = cell_type(value) or CELL_TYPES[3]
        columns.append({"isCaseSensitive": case, "isCurrency": False, "isSigned": signed,
                        "label": name, "length": 0, "name": name, "nullable": 1,
                        "precision": precision, "scale": scale, "schemaName": "",
                        "tableName": "", "typeName": type_name})
    return columns


def submit(body, sqls, batch):
    """Validate a (Batch)ExecuteStatement body and record a new statement."""
    if not body.get("Database"):
        raise ApiError("ValidationException", "Database is required")
    if bool(body.get("ClusterIdentifier")) == bool(body.get("WorkgroupName")):
        raise ApiError("ValidationException",
                       "Exactly one of ClusterIdentifier or WorkgroupName must be provided")
    for sql in sqls:
        if len(sql.encode("utf-8")) > MAX_SQL_BYTES:
            raise ApiError("ValidationException", "Cannot process query string larger than 100kB")
    created = now()
    b = state["behaviour"]
    fail_index = None
    if b["fail_on"] is not None:
        fail_index = next((i for i, s in enumerate(sqls) if b["fail_on"] in s), None)
    st = {"Id": str(uuid.uuid4()), "sqls": sqls, "batch": batch, "status": "SUBMITTED",
          "polls": 0, "CreatedAt": created, "UpdatedAt": created, "fail_index": fail_index,
          "error": b["error"], "never_finish": b["never_finish"],
          "polls_before_finish": b["polls_before_finish"], "sub_status": None,
          "has_result": not batch and sqls[0].lstrip()[:6].upper() == "SELECT",
          "rows": [list(row) for row in b["result_rows"]]}
    state["statements"][st["Id"]] = st
    reply = {"Id": st["Id"], "CreatedAt": created, "Database": body["Database"]}
    for key in ("ClusterIdentifier", "WorkgroupName", "DbUser", "SecretArn"):
        if body.get(key):
            reply[key] = body[key]
    st["echo"] = {k: v for k, v in reply.items() if k not in ("Id", "CreatedAt")}
    return reply


def advance(st):
    """One DescribeStatement poll: polls 1..N report PICKED, STARTED, STARTED, ...
    (N = polls_before_finish); poll N+1 reports the outcome (FINISHED or FAILED)."""
    if st["status"] in TERMINAL:
        return
    st["polls"] += 1
    st["UpdatedAt"] = now()
    if st["never_finish"] or st["polls"] <= st["polls_before_finish"]:
        st["status"] = PROGRESS[min(st["polls"], 2)]
        return
    n, fail = len(st["sqls"]), st["fail_index"]
    if fail is None:
        st["status"], st["sub_status"] = "FINISHED", ["FINISHED"] * n
    else:
        st["status"] = "FAILED"
        st["sub_status"] = ["FINISHED"] * fail + ["FAILED"] + ["ABORTED"] * (n - fail - 1)


def duration(status, created, updated):
    return max(0, int((updated - created) * 1e9)) if status in ("FINISHED", "FAILED") else -1


def describe(st):
    status = st["status"]
    finished_rows = len(st["rows"]) if st["has_result"] else 0
    reply = {"Id": st["Id"], "Status": status, "CreatedAt": st["CreatedAt"],
             "UpdatedAt": st["UpdatedAt"], "HasResultSet": st["has_result"],
             "Duration": duration(status, st["CreatedAt"], st["UpdatedAt"]),
             "ResultRows": finished_rows if status == "FINISHED" else -1, **st["echo"]}
    if status == "FAILED":
        reply["Error"] = st["error"]
    if not st["batch"]:
        reply["QueryString"] = st["sqls"][0]
        return reply
    subs = st["sub_status"] or [status] + ["SUBMITTED"] * (len(st["sqls"]) - 1)
    reply["SubStatements"] = []
    for i, (sql, sub) in enumerate(zip(st["sqls"], subs)):
        item = {"Id": f"{st['Id']}:{i + 1}", "Status": sub, "QueryString": sql,
                "CreatedAt": st["CreatedAt"], "UpdatedAt": st["UpdatedAt"],
                "Duration": duration(sub, st["CreatedAt"], st["UpdatedAt"]),
                "ResultRows": 0 if sub == "FINISHED" else -1, "HasResultSet": False}
        if sub == "FAILED":
            item["Error"] = st["error"]
        reply["SubStatements"].append(item)
    return reply


def lookup(body):
    st = state["statements"].get(body.get("Id"))
    if st is None:
        raise ApiError("ResourceNotFoundException", f"Query does not exist: {body.get('Id')}",
                       ResourceId=body.get("Id"))
    return st


def dispatch(op, body):
    if op == "ExecuteStatement":
        if not isinstance(body.get("Sql"), str):
            raise ApiError("ValidationException", "Sql is required and must be a string")
        return submit(body, [body["Sql"]], batch=False)
    if op == "BatchExecuteStatement":
        sqls = body.get("Sqls")
        if not (isinstance(sqls, list) and 1 <= len(sqls) <= 40
                and all(isinstance(s, str) for s in sqls)):
            raise ApiError("ValidationException", "1 validation error detected: Value at 'sqls' "
                           "failed to satisfy constraint: Member must be a list of 1 to 40 strings")
        return submit(body, sqls, batch=True)
    if op == "DescribeStatement":
        st = lookup(body)
        advance(st)
        return describe(st)
    if op == "CancelStatement":
        st = lookup(body)
        if st["status"] in TERMINAL:
            raise ApiError("ValidationException",
                           f"Could not cancel a query that is already in {st['status']} state.")
        st["status"], st["UpdatedAt"] = "ABORTED", now()
        st["sub_status"] = ["ABORTED"] * len(st["sqls"])
        return {"Status": True}
    if op == "GetStatementResult":
        st = lookup(body)
        if st["status"] != "FINISHED" or not st["has_result"]:
            raise ApiError("ValidationException", NO_RESULT)
        rows = st["rows"]
        return {"Records": [[field(cell) for cell in row] for row in rows],
                "ColumnMetadata": column_metadata(rows[0] if rows else []),
                "TotalNumRows": len(rows)}
    raise ApiError("UnknownOperationException", f"Unknown operation: {op}")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    target = "-"

    def reply(self, status, payload, content_type="application/json", headers=()):
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        for key, value in headers:
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def read_body(self):
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            return json.loads(raw or b"{}")
        except ValueError:
            return raw.decode("utf-8", "replace")

    def do_GET(self):
        self.target = "-"
        if self.path == "/_requests":
            with lock:
                return self.reply(200, list(state["requests"]))
        self.reply(404, {"message": "not found"})

    def do_POST(self):
        body, self.target = self.read_body(), "-"
        if self.path == "/_control":
            if not isinstance(body, dict):
                return self.reply(400, {"message": "/_control wants a JSON object"})
            problem = check_rows(body.get("result_rows", DEFAULT_BEHAVIOUR["result_rows"]))
            if problem:
                return self.reply(400, {"message": problem})
            with lock:
                state["behaviour"] = {**DEFAULT_BEHAVIOUR, **body}
                return self.reply(200, state["behaviour"])
        if self.path == "/_reset":
            with lock:
                state.update(requests=[], behaviour=dict(DEFAULT_BEHAVIOUR), statements={})
            return self.reply(200, {})
        if self.path != "/":
            return self.reply(404, {"message": "not found"})
        self.target = self.headers.get("X-Amz-Target", "")
        auth = self.headers.get("Authorization", "")
        with lock:
            state["requests"].append({"target": self.target, "body": body,
                                      "authorization_present": bool(auth)})
            try:
                if not (auth.startswith("AWS4-HMAC-SHA256 Credential=")
                        and "/redshift-data/aws4_request" in auth.split(",")[0]):
                    raise ApiError("InvalidSignatureException", "Request is not SigV4-signed "
                                   "for service redshift-data")
                if not isinstance(body, dict):
                    raise ApiError("SerializationException", "Request body is not a JSON object")
                prefix, _, op = self.target.partition(".")
                try:
                    result = dispatch(op if prefix == "RedshiftData" else self.target, body)
                except (TypeError, KeyError, AttributeError) as e:  # malformed member types
                    raise ApiError("ValidationException", f"Malformed request: {e}")
            except ApiError as e:
                return self.reply(400, {"__type": e.kind, "message": e.message, **e.extra},
                                  JSON_TYPE, [("x-amzn-ErrorType", e.kind)])
        self.reply(200, result, JSON_TYPE)

    def log_message(self, fmt, *args):
        sys.stderr.write(f"redshift-data-double: {self.target} {fmt % args}\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args()
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    print(f"PORT {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
