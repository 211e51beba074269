"""Checks tests/doubles/redshift_data.py against boto3's real redshift-data client.

Not part of the Rust suite. Run with a Python that has boto3:
    python3 tests/doubles/test_redshift_data_double.py
boto3 parsing every reply is the point: it proves the awsJson1_1 wire format.
"""
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

HERE = os.path.dirname(os.path.abspath(__file__))
CLUSTER = {"ClusterIdentifier": "igpipe-test", "Database": "dev", "DbUser": "loader"}


def control(base, path, payload=None):
    data = json.dumps(payload or {}).encode() if path != "/_requests" else None
    with urllib.request.urlopen(urllib.request.Request(base + path, data=data)) as resp:
        return json.load(resp)


def error_code(fn, **kwargs):
    try:
        fn(**kwargs)
    except ClientError as e:
        return e.response["Error"]["Code"], e.response["Error"]["Message"]
    raise AssertionError("expected a ClientError")


def poll(client, statement_id, times):
    return [client.describe_statement(Id=statement_id) for _ in range(times)]


def main():
    proc = subprocess.Popen([sys.executable, os.path.join(HERE, "redshift_data.py"), "--port", "0"],
                            stdout=subprocess.PIPE, text=True)
    try:
        port = int(proc.stdout.readline().split()[1])
        base = f"http://127.0.0.1:{port}"
        client = boto3.client(
            "redshift-data", endpoint_url=base, region_name="us-east-1",
            aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret",
            # let over-long lists reach the double, which must reject them itself
            config=Config(parameter_validation=False, retries={"max_attempts": 1}))

        # 1. single statement, default polls_before_finish=2: PICKED, STARTED, then FINISHED
        sid = client.execute_statement(Sql="select 1", **CLUSTER)["Id"]
        statuses = [d["Status"] for d in poll(client, sid, 4)]
        assert statuses == ["PICKED", "STARTED", "FINISHED", "FINISHED"], statuses
        done = client.describe_statement(Id=sid)
        assert done["QueryString"] == "select 1" and done["Duration"] >= 0, done
        assert "SubStatements" not in done and done["CreatedAt"].year >= 2024
        print("ok  execute_statement + describe_statement ->", statuses)

        # 2. batch with fail_on matching the 2nd sql
        err = 'ERROR: relation "missing" does not exist'
        control(base, "/_control", {"fail_on": "missing", "error": err})
        bid = client.batch_execute_statement(
            Sqls=["begin work", "insert into missing select 1", "commit"], **CLUSTER)["Id"]
        assert poll(client, bid, 2)[-1]["Status"] == "STARTED"
        final = poll(client, bid, 1)[-1]
        subs = [s["Status"] for s in final["SubStatements"]]
        assert final["Status"] == "FAILED" and final["Error"] == err, final
        assert subs == ["FINISHED", "FAILED", "ABORTED"], subs
        assert final["SubStatements"][1]["Id"] == f"{bid}:2"
        assert final["SubStatements"][1]["Error"] == err and "QueryString" not in final
        print("ok  batch fail_on ->", final["Status"], subs)

        # 3. polls_before_finish=0 finishes on the first describe
        control(base, "/_control", {"polls_before_finish": 0})
        zid = client.execute_statement(Sql="select 2", **CLUSTER)["Id"]
        assert client.describe_statement(Id=zid)["Status"] == "FINISHED"
        print("ok  polls_before_finish=0 -> FINISHED on first describe")

        # 4. GetStatementResult: a SELECT's scripted rows, parsed by boto3
        control(base, "/_control", {"result_rows": [[3]], "polls_before_finish": 0})
        sql = "  SELECT count(*) FROM history WHERE as_of = '2024-05-06'"
        cid = client.execute_statement(Sql=sql, **CLUSTER)["Id"]
        done = client.describe_statement(Id=cid)
        assert done["Status"] == "FINISHED" and done["HasResultSet"] is True, done
        assert done["ResultRows"] == 1, done
        result = client.get_statement_result(Id=cid)
        assert result["Records"][0][0]["longValue"] == 3, result
        assert result["TotalNumRows"] == 1 and "NextToken" not in result, result
        (column,) = result["ColumnMetadata"]
        assert column["name"] == column["label"] == "count", column
        assert column["typeName"] == "int8" and column["nullable"] == 1, column
        assert column["isSigned"] is True and column["isCaseSensitive"] is False, column
        print("ok  get_statement_result ->", result["Records"], column["typeName"])

        # mixed cell types; column names col1, col2, ...
        rows = [[1, 2.5, "a", True, None], [2, 0.0, "", False, None]]
        control(base, "/_control", {"result_rows": rows, "polls_before_finish": 0})
        mid = client.execute_statement(Sql="select * from t", **CLUSTER)["Id"]
        assert client.describe_statement(Id=mid)["ResultRows"] == 2
        result = client.get_statement_result(Id=mid)
        assert result["Records"][0] == [{"longValue": 1}, {"doubleValue": 2.5},
                                        {"stringValue": "a"}, {"booleanValue": True},
                                        {"isNull": True}], result
        columns = result["ColumnMetadata"]
        assert [c["name"] for c in columns] == ["col1", "col2", "col3", "col4", "col5"], columns
        assert [c["typeName"] for c in columns][:4] == ["int8", "float8", "varchar", "bool"]
        assert result["TotalNumRows"] == 2
        print("ok  get_statement_result with mixed cell types -> col1..col5")

        no_result = ("ValidationException", "Query does not have result. "
                     "Please check query status with DescribeStatement.")
        did = client.execute_statement(Sql="delete from history", **CLUSTER)["Id"]
        done = client.describe_statement(Id=did)
        assert done["Status"] == "FINISHED" and done["HasResultSet"] is False, done
        code = error_code(client.get_statement_result, Id=did)
        assert code == no_result, code
        control(base, "/_control", {})  # default polls_before_finish=2: not finished yet
        pid = client.execute_statement(Sql="select count(*) from history", **CLUSTER)["Id"]
        assert client.describe_statement(Id=pid)["Status"] == "PICKED"
        assert error_code(client.get_statement_result, Id=pid) == no_result
        code = error_code(client.get_statement_result, Id="00000000-0000-0000-0000-000000000000")
        assert code[0] == "ResourceNotFoundException", code
        req = urllib.request.Request(base + "/_control", data=b'{"result_rows": [[{"x": 1}]]}')
        try:
            urllib.request.urlopen(req)
            raise AssertionError("bad result_rows accepted")
        except urllib.error.HTTPError as e:
            assert e.code == 400, e
        print("ok  get_statement_result errors: no result set, not finished -> ValidationException;"
              " unknown id -> ResourceNotFoundException")

        # 5. never_finish stays STARTED; 6. cancel aborts it
        control(base, "/_control", {"never_finish": True})
        nid = client.execute_statement(Sql="vacuum", WorkgroupName="wg", Database="dev")["Id"]
        statuses = [d["Status"] for d in poll(client, nid, 6)]
        assert statuses[-1] == "STARTED" and statuses[-1] == statuses[-4], statuses
        assert poll(client, nid, 1)[0]["Duration"] == -1
        print("ok  never_finish ->", statuses)
        assert client.cancel_statement(Id=nid)["Status"] is True
        assert client.describe_statement(Id=nid)["Status"] == "ABORTED"
        print("ok  cancel_statement -> ABORTED")

        # 7. validation errors
        code = error_code(client.batch_execute_statement, Sqls=["select 1"] * 41, **CLUSTER)
        assert code[0] == "ValidationException", code
        code = error_code(client.execute_statement, Sql="x" * (100 * 1024 + 1), **CLUSTER)
        assert code == ("ValidationException", "Cannot process query string larger than 100kB")
        code = error_code(client.execute_statement, Sql="select 1", Database="dev")
        assert code[0] == "ValidationException", code
        code = error_code(client.describe_statement, Id="00000000-0000-0000-0000-000000000000")
        assert code[0] == "ResourceNotFoundException", code
        print("ok  ValidationException (41 sqls, >100kB, no cluster), ResourceNotFoundException")

        # 8. unsigned request
        req = urllib.request.Request(base + "/", data=b'{"Id": "x"}', headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": "RedshiftData.DescribeStatement"})
        try:
            urllib.request.urlopen(req)
            raise AssertionError("unsigned request accepted")
        except urllib.error.HTTPError as e:
            body = json.load(e)
            assert e.code == 400 and body["__type"] == "InvalidSignatureException", body
            assert e.headers["x-amzn-ErrorType"] == "InvalidSignatureException"
        print("ok  unsigned request -> InvalidSignatureException")

        # 9. request log, then reset
        log = control(base, "/_requests")
        assert log[0]["target"] == "RedshiftData.ExecuteStatement"
        assert log[0]["body"]["Sql"] == "select 1" and log[0]["authorization_present"] is True
        assert log[-1]["authorization_present"] is False
        assert all("AWS4" not in json.dumps(r) for r in log)
        control(base, "/_reset")
        assert control(base, "/_requests") == []
        print(f"ok  /_requests logged {len(log)} requests; /_reset cleared them")
        print("all checks passed")
    finally:
        proc.terminate()
        proc.wait(timeout=5)


if __name__ == "__main__":
    main()
