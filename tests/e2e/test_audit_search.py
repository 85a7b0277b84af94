"""End-to-end: searching the audit trail (issue 4, items 4 and 5).

A few KMS calls, allowed and failing, then: `aws cloudtrail lookup-events` (the stock CLI) returns exactly
the Encrypt calls, newest first, with the right summary members and the recorded event; `--max-results 1`
pages through the same list; `trent audit lookup` agrees; GetKeyLastUsage names the last Encrypt. Events are
durable before each reply (group commit), so they are searchable as soon as a call returns.
"""

from __future__ import annotations

import json
import subprocess
from datetime import timedelta

import pytest
from botocore.exceptions import ClientError

from conftest import clean_base_env, trent_bin


def rid(resp_or_error) -> str:
    if isinstance(resp_or_error, ClientError):
        return resp_or_error.response["ResponseMetadata"]["RequestId"]
    return resp_or_error["ResponseMetadata"]["RequestId"]


def lookup_cli(srv, *args: str) -> dict:
    out = srv.aws("cloudtrail", "lookup-events", "--output", "json", *args)
    return json.loads(out.stdout)


def trent_lookup(srv, *args: str) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(trent_bin()), "audit", "lookup", "--data-dir", str(srv.data_dir), *args],
                          capture_output=True, text=True, env=clean_base_env(), timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc


@pytest.fixture
def busy_server(make_server):
    """A server with a known history: returns (server, key metadata, request ids by label)."""
    srv = make_server()
    kms = srv.client()
    key = kms.create_key(Description="audit search e2e")["KeyMetadata"]
    ids = {}
    enc = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"search one")
    ids["encrypt1"] = rid(enc)
    ids["decrypt"] = rid(kms.decrypt(CiphertextBlob=enc["CiphertextBlob"]))
    ids["gdk"] = rid(kms.generate_data_key(KeyId=key["KeyId"], KeySpec="AES_256"))
    ids["encrypt2"] = rid(kms.encrypt(KeyId=key["Arn"], Plaintext=b"search two"))
    with pytest.raises(ClientError) as e:
        kms.encrypt(KeyId="alias/no-such-alias", Plaintext=b"x")
    assert e.value.response["Error"]["Code"] == "NotFoundException"
    ids["encrypt_fail"] = rid(e.value)
    with pytest.raises(ClientError) as e:
        kms.describe_key(KeyId="11111111-2222-3333-4444-555555555555")
    ids["describe_fail"] = rid(e.value)
    return srv, key, ids


def test_lookup_events_with_the_stock_cli_pagination_and_trent_audit_lookup(busy_server):
    srv, key, ids = busy_server
    access_key = srv.aws_vars["AWS_ACCESS_KEY_ID"]

    events = lookup_cli(srv, "--lookup-attributes", "AttributeKey=EventName,AttributeValue=Encrypt")["Events"]
    records = [json.loads(e["CloudTrailEvent"]) for e in events]
    # Exactly the three Encrypt calls, newest first.
    assert [r["requestID"] for r in records] == [ids["encrypt_fail"], ids["encrypt2"], ids["encrypt1"]]
    for e, r in zip(events, records):
        assert e["EventName"] == r["eventName"] == "Encrypt"
        assert e["EventId"] == r["eventID"]
        assert e["EventSource"] == "kms.amazonaws.com"
        assert e["ReadOnly"] == "true"
        assert e["Username"] == "root"
        assert e["AccessKeyId"] == access_key == r["userIdentity"]["accessKeyId"]
        assert isinstance(e["EventTime"], (int, float)) or "T" in str(e["EventTime"])
        assert "search one" not in e["CloudTrailEvent"] and "search two" not in e["CloudTrailEvent"]
    assert records[0]["errorCode"] == "NotFoundException"
    assert "errorCode" not in records[1] and "errorCode" not in records[2]
    for e in events[1:]:
        assert e["Resources"] == [{"ResourceType": "AWS::KMS::Key", "ResourceName": key["Arn"]}]

    # One event per page, following NextToken, gives the same list.
    paged, token = [], None
    for _ in range(10):
        args = ["--lookup-attributes", "AttributeKey=EventName,AttributeValue=Encrypt", "--max-results", "1"]
        if token:
            args += ["--next-token", token]
        page = lookup_cli(srv, *args)
        assert len(page["Events"]) == 1
        paged += page["Events"]
        token = page.get("NextToken")
        if not token:
            break
    assert [e["EventId"] for e in paged] == [e["EventId"] for e in events]

    # Other attributes: the key (every call on it), failures excluded by ReadOnly=false (none are writes
    # except CreateKey), the caller's access key.
    by_key = lookup_cli(srv, "--lookup-attributes", f"AttributeKey=ResourceName,AttributeValue={key['Arn']}")["Events"]
    assert {e["EventName"] for e in by_key} >= {"CreateKey", "Encrypt", "Decrypt", "GenerateDataKey"}
    writes = lookup_cli(srv, "--lookup-attributes", "AttributeKey=ReadOnly,AttributeValue=false")["Events"]
    assert [e["EventName"] for e in writes] == ["CreateKey"]

    # The lookups are audited too, as CloudTrail read-only calls.
    lookups = lookup_cli(srv, "--lookup-attributes", "AttributeKey=EventName,AttributeValue=LookupEvents")["Events"]
    assert lookups and {(e["EventSource"], e["ReadOnly"]) for e in lookups} == {("cloudtrail.amazonaws.com", "true")}

    # trent audit lookup reads the files and agrees.
    lines = trent_lookup(srv, "--event-name", "Encrypt", "--output", "json").stdout.splitlines()
    assert [json.loads(l)["eventID"] for l in lines] == [e["EventId"] for e in events]
    failed = trent_lookup(srv, "--error-code", "NotFoundException").stdout.splitlines()
    assert [json.loads(l)["requestID"] for l in failed] == [ids["describe_fail"], ids["encrypt_fail"]]
    one = trent_lookup(srv, "--event-name", "Encrypt", "--max", "1")
    assert len(one.stdout.splitlines()) == 1 and "--next-token" in one.stderr
    table = trent_lookup(srv, "--key", key["KeyId"], "--output", "table").stdout
    assert table.splitlines()[0].startswith("EVENT TIME") and "GenerateDataKey" in table


def test_get_key_last_usage_reports_the_last_encrypt(busy_server):
    srv, key, ids = busy_server
    kms = srv.client()
    resp = kms.get_key_last_usage(KeyId=key["KeyId"])
    last = resp["KeyLastUsage"]
    assert last["Operation"] == "Encrypt"
    assert last["KmsRequestId"] == ids["encrypt2"]
    events = lookup_cli(srv, "--lookup-attributes", "AttributeKey=EventName,AttributeValue=Encrypt")["Events"]
    by_request = {json.loads(e["CloudTrailEvent"])["requestID"]: e["EventId"] for e in events}
    assert last["CloudTrailEventId"] == by_request[ids["encrypt2"]]
    assert resp["KeyId"] == key["KeyId"]
    assert resp["KeyCreationDate"] == key["CreationDate"]
    assert resp["TrackingStartDate"] >= key["CreationDate"] - timedelta(seconds=1)
    assert last["Timestamp"] >= key["CreationDate"] - timedelta(seconds=1)

    # A key never used: an empty KeyLastUsage. Aliases are refused; unknown keys are not found.
    fresh = kms.create_key(Description="never used")["KeyMetadata"]
    assert kms.get_key_last_usage(KeyId=fresh["Arn"])["KeyLastUsage"] == {}
    kms.create_alias(AliasName="alias/last-usage", TargetKeyId=key["KeyId"])
    with pytest.raises(ClientError) as e:
        kms.get_key_last_usage(KeyId="alias/last-usage")
    assert e.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(ClientError) as e:
        kms.get_key_last_usage(KeyId="11111111-2222-3333-4444-555555555555")
    assert e.value.response["Error"]["Code"] == "NotFoundException"


def test_lookup_events_needs_root_or_an_iam_allow_and_validates_input(busy_server):
    srv, _key, _ids = busy_server
    iam = srv.iam_client()
    iam.create_user(UserName="auditor")
    ak = iam.create_access_key(UserName="auditor")["AccessKey"]
    trail = srv._aws_client("cloudtrail", ak["AccessKeyId"], ak["SecretAccessKey"])
    with pytest.raises(ClientError) as e:
        trail.lookup_events()
    assert e.value.response["Error"]["Code"] == "AccessDeniedException"
    iam.put_user_policy(UserName="auditor", PolicyName="lookup", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "cloudtrail:LookupEvents", "Resource": "*"}],
    }))
    events = trail.lookup_events(LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "Encrypt"}])
    assert len(events["Events"]) == 3

    root = srv._aws_client("cloudtrail")
    attr = {"AttributeKey": "EventName", "AttributeValue": "Encrypt"}
    for kwargs, code in [
        ({"LookupAttributes": [attr, attr]}, "InvalidLookupAttributesException"),
        ({"LookupAttributes": [{"AttributeKey": "ReadOnly", "AttributeValue": "maybe"}]},
         "InvalidLookupAttributesException"),
        ({"MaxResults": 51}, "InvalidMaxResultsException"),
        ({"NextToken": "garbage"}, "InvalidNextTokenException"),
        ({"StartTime": 2_000_000_000, "EndTime": 1_000_000_000}, "InvalidTimeRangeException"),
    ]:
        with pytest.raises(ClientError) as e:
            root.lookup_events(**kwargs)
        assert e.value.response["Error"]["Code"] == code, kwargs
    # A time window that ends before the server started holds nothing.
    assert root.lookup_events(EndTime=1_000_000_000)["Events"] == []
