"""SSM Parameter Store end to end: the stock AWS CLI and boto3 against a real `trent serve`.

SecureString values are encrypted by Trent's KMS under the PARAMETER_ARN encryption context; the last tests
read the SQLite file directly to check no plaintext is stored.
"""

from __future__ import annotations

import base64
import datetime
import json
import sqlite3
import time

import pytest
from botocore.exceptions import ClientError

from conftest import unique


@pytest.fixture(scope="module")
def ssm(server):
    return server.ssm_client()


def error_code(excinfo) -> str:
    return excinfo.value.response["Error"]["Code"]


def error_message(excinfo) -> str:
    return excinfo.value.response["Error"]["Message"]


def test_put_get_overwrite_history_with_the_cli(server):
    name = f"/{unique('cli')}/db/url"
    out = json.loads(server.aws("ssm", "put-parameter", "--name", name, "--value", "postgres://a",
                                "--type", "String", "--description", "first").stdout)
    assert out == {"Version": 1, "Tier": "Standard"}
    proc = server.aws("ssm", "put-parameter", "--name", name, "--value", "x", "--type", "String", check=False)
    assert proc.returncode != 0 and b"ParameterAlreadyExists" in proc.stderr
    out = json.loads(server.aws("ssm", "put-parameter", "--name", name, "--value", "postgres://b",
                                "--overwrite").stdout)
    assert out["Version"] == 2
    got = json.loads(server.aws("ssm", "get-parameter", "--name", name).stdout)["Parameter"]
    assert (got["Value"], got["Version"], got["Type"]) == ("postgres://b", 2, "String")
    assert got["ARN"].endswith(f":parameter{name}")
    value = server.aws("ssm", "get-parameter", "--name", f"{name}:1", "--query", "Parameter.Value",
                       "--output", "text").stdout.decode().strip()
    assert value == "postgres://a"
    hist = json.loads(server.aws("ssm", "get-parameter-history", "--name", name).stdout)["Parameters"]
    assert [h["Version"] for h in hist] == [1, 2]
    assert hist[0]["Description"] == "first"
    # The CLI follows NextToken across pages by itself.
    base = name.rsplit("/", 2)[0]
    for i in range(5):
        server.aws("ssm", "put-parameter", "--name", f"{base}/many/p{i}", "--value", str(i), "--type", "String")
    listed = json.loads(server.aws("ssm", "get-parameters-by-path", "--path", base, "--recursive",
                                   "--page-size", "2").stdout)["Parameters"]
    assert len(listed) == 6
    described = json.loads(server.aws("ssm", "describe-parameters", "--parameter-filters",
                                      f"Key=Path,Option=Recursive,Values={base}", "--page-size", "2").stdout)
    assert len(described["Parameters"]) == 6
    server.aws("ssm", "delete-parameter", "--name", name)
    proc = server.aws("ssm", "get-parameter", "--name", name, check=False)
    assert proc.returncode != 0 and b"ParameterNotFound" in proc.stderr


def test_secure_string_default_key_with_the_cli(server, kms):
    name = f"/{unique('sec')}/password"
    server.aws("ssm", "put-parameter", "--name", name, "--value", "s3cr3t-cli", "--type", "SecureString")
    plain = server.aws("ssm", "get-parameter", "--name", name, "--with-decryption", "--query", "Parameter.Value",
                       "--output", "text").stdout.decode().strip()
    assert plain == "s3cr3t-cli"
    sealed = server.aws("ssm", "get-parameter", "--name", name, "--query", "Parameter.Value",
                        "--output", "text").stdout.decode().strip()
    assert sealed != "s3cr3t-cli"
    meta = kms.describe_key(KeyId="alias/aws/ssm")["KeyMetadata"]
    assert meta["KeyManager"] == "AWS"
    # The service's key is not the account's to disable or delete.
    for call in (lambda: kms.disable_key(KeyId=meta["KeyId"]),
                 lambda: kms.schedule_key_deletion(KeyId=meta["KeyId"], PendingWindowInDays=7)):
        with pytest.raises(ClientError) as e:
            call()
        assert error_code(e) == "AccessDeniedException"
    # The value without decryption is a KMS ciphertext under the managed key, whose policy admits the account
    # only through Parameter Store (kms:ViaService): a direct Decrypt is denied, as in AWS.
    arn = json.loads(server.aws("ssm", "get-parameter", "--name", name).stdout)["Parameter"]["ARN"]
    with pytest.raises(ClientError) as e:
        kms.decrypt(CiphertextBlob=base64.b64decode(sealed), EncryptionContext={"PARAMETER_ARN": arn})
    assert error_code(e) == "AccessDeniedException"


def test_secure_string_customer_key_and_disabled_key(ssm, kms, key):
    prefix = f"/{unique('ck')}"
    ssm.put_parameter(Name=f"{prefix}/secret", Value="under-customer-key", Type="SecureString",
                      KeyId=key["KeyId"])
    ssm.put_parameter(Name=f"{prefix}/plain", Value="still-readable", Type="String")
    got = ssm.get_parameter(Name=f"{prefix}/secret", WithDecryption=True)["Parameter"]
    assert got["Value"] == "under-customer-key"
    # Without decryption the value is a KMS ciphertext that KMS Decrypt accepts with the PARAMETER_ARN context
    # (the customer key's default policy lets the account use it directly), and refuses without it.
    sealed = base64.b64decode(ssm.get_parameter(Name=f"{prefix}/secret")["Parameter"]["Value"])
    out = kms.decrypt(CiphertextBlob=sealed, EncryptionContext={"PARAMETER_ARN": got["ARN"]})
    assert (out["Plaintext"], out["KeyId"]) == (b"under-customer-key", key["Arn"])
    with pytest.raises(ClientError) as e:
        kms.decrypt(CiphertextBlob=sealed)
    assert error_code(e) == "InvalidCiphertextException"
    desc = ssm.describe_parameters(ParameterFilters=[{"Key": "Name", "Values": [f"{prefix}/secret"]}])
    assert desc["Parameters"][0]["KeyId"] == key["KeyId"]
    kms.disable_key(KeyId=key["KeyId"])
    try:
        with pytest.raises(ClientError) as e:
            ssm.get_parameter(Name=f"{prefix}/secret", WithDecryption=True)
        assert error_code(e) == "InvalidKeyId"
        assert "DisabledException" in error_message(e)
        # Without decryption the ciphertext is still returned; String parameters are untouched.
        assert ssm.get_parameter(Name=f"{prefix}/secret")["Parameter"]["Value"] != "under-customer-key"
        assert ssm.get_parameter(Name=f"{prefix}/plain")["Parameter"]["Value"] == "still-readable"
        with pytest.raises(ClientError) as e:
            ssm.put_parameter(Name=f"{prefix}/secret", Value="new", Overwrite=True)
        assert error_code(e) == "InvalidKeyId"
    finally:
        kms.enable_key(KeyId=key["KeyId"])
    with pytest.raises(ClientError) as e:
        ssm.put_parameter(Name=f"{prefix}/nokey", Value="v", Type="SecureString", KeyId="alias/does-not-exist")
    assert error_code(e) == "InvalidKeyId"


def test_labels_and_selectors(ssm):
    name = f"/{unique('lbl')}/p"
    for v in ("v1", "v2", "v3"):
        ssm.put_parameter(Name=name, Value=v, Type="String", Overwrite=True)
    out = ssm.label_parameter_version(Name=name, ParameterVersion=1, Labels=["prod", "9bad", "awsy"])
    assert out["ParameterVersion"] == 1
    assert sorted(out["InvalidLabels"]) == ["9bad", "awsy"]
    got = ssm.get_parameter(Name=f"{name}:prod")["Parameter"]
    assert (got["Value"], got["Selector"]) == ("v1", ":prod")
    # Labelling without a version takes the latest; the label moves.
    assert ssm.label_parameter_version(Name=name, Labels=["prod"])["ParameterVersion"] == 3
    assert ssm.get_parameter(Name=f"{name}:prod")["Parameter"]["Version"] == 3
    hist = ssm.get_parameter_history(Name=name)["Parameters"]
    assert [h["Labels"] for h in hist] == [[], [], ["prod"]]
    with pytest.raises(ClientError) as e:
        ssm.label_parameter_version(Name=name, ParameterVersion=2, Labels=[f"l{i}" for i in range(10)] + ["x"])
    assert error_code(e) == "ValidationException"
    ssm.label_parameter_version(Name=name, ParameterVersion=2, Labels=[f"l{i}" for i in range(10)])
    with pytest.raises(ClientError) as e:
        ssm.label_parameter_version(Name=name, ParameterVersion=2, Labels=["eleventh"])
    assert error_code(e) == "ParameterVersionLabelLimitExceeded"
    out = ssm.unlabel_parameter_version(Name=name, ParameterVersion=3, Labels=["prod", "nope"])
    assert (out["RemovedLabels"], out["InvalidLabels"]) == (["prod"], ["nope"])
    with pytest.raises(ClientError) as e:
        ssm.get_parameter(Name=f"{name}:7")
    assert error_code(e) == "ParameterVersionNotFound"
    with pytest.raises(ClientError) as e:
        ssm.label_parameter_version(Name=name, ParameterVersion=9, Labels=["x"])
    assert error_code(e) == "ParameterVersionNotFound"


def test_by_path_pagination_recursive_and_filters(ssm):
    base = f"/{unique('path')}"
    for i in range(23):
        ssm.put_parameter(Name=f"{base}/app/p{i:02d}", Value=f"v{i}", Type="String")
    ssm.put_parameter(Name=f"{base}/app/deep/x", Value="deep", Type="StringList")
    ssm.put_parameter(Name=f"{base}/app/s", Value="secret", Type="SecureString")
    pages = list(ssm.get_paginator("get_parameters_by_path").paginate(
        Path=f"{base}/app", PaginationConfig={"PageSize": 10}))
    assert len(pages) >= 3
    names = [p["Name"] for page in pages for p in page["Parameters"]]
    assert len(names) == 24 and len(set(names)) == 24
    assert f"{base}/app/deep/x" not in names
    rec = [p for page in ssm.get_paginator("get_parameters_by_path").paginate(Path=base, Recursive=True)
           for p in page["Parameters"]]
    assert len(rec) == 25
    lists = ssm.get_parameters_by_path(Path=base, Recursive=True,
                                       ParameterFilters=[{"Key": "Type", "Values": ["StringList"]}])["Parameters"]
    assert [p["Name"] for p in lists] == [f"{base}/app/deep/x"]
    dec = ssm.get_parameters_by_path(Path=base, Recursive=True, WithDecryption=True,
                                     ParameterFilters=[{"Key": "Type", "Values": ["SecureString"]}])
    assert dec["Parameters"][0]["Value"] == "secret"
    with pytest.raises(ClientError) as e:
        ssm.get_parameters_by_path(Path=base, MaxResults=11)
    assert error_code(e) == "ValidationException"
    with pytest.raises(ClientError) as e:
        ssm.get_parameters_by_path(Path=base, NextToken="not-a-token")
    assert error_code(e) == "InvalidNextToken"
    with pytest.raises(ClientError) as e:
        ssm.get_parameters_by_path(Path=base, ParameterFilters=[{"Key": "Name", "Values": ["x"]}])
    assert error_code(e) == "InvalidFilterKey"
    with pytest.raises(ClientError) as e:
        ssm.get_parameters_by_path(Path=base, ParameterFilters=[{"Key": "Type", "Option": "Contains",
                                                                 "Values": ["String"]}])
    assert error_code(e) == "InvalidFilterOption"
    # DescribeParameters pages too, and never returns values.
    described = [p for page in ssm.get_paginator("describe_parameters").paginate(
        ParameterFilters=[{"Key": "Path", "Option": "Recursive", "Values": [base]}],
        PaginationConfig={"PageSize": 7}) for p in page["Parameters"]]
    assert len(described) == 25
    assert all("Value" not in p for p in described)


def test_get_parameters_and_delete_parameters(ssm):
    a, b = f"/{unique('m')}/a", f"/{unique('m')}/b"
    ssm.put_parameter(Name=a, Value="1", Type="String")
    ssm.put_parameter(Name=b, Value="2", Type="String")
    out = ssm.get_parameters(Names=[a, b, "/missing/one", f"{a}:5"])
    assert sorted(p["Value"] for p in out["Parameters"]) == ["1", "2"]
    assert sorted(out["InvalidParameters"]) == sorted(["/missing/one", f"{a}:5"])
    out = ssm.delete_parameters(Names=[a, "/missing/two"])
    assert (out["DeletedParameters"], out["InvalidParameters"]) == ([a], ["/missing/two"])
    with pytest.raises(ClientError) as e:
        ssm.delete_parameter(Name=a)
    assert error_code(e) == "ParameterNotFound"
    with pytest.raises(ClientError) as e:
        ssm.get_parameters(Names=[f"/n{i}" for i in range(11)])
    assert error_code(e) == "ValidationException"


def test_name_and_value_rules(ssm):
    cases = [
        (dict(Name="awsThing", Value="v", Type="String"), "ValidationException"),
        (dict(Name="/ssm/x", Value="v", Type="String"), "ValidationException"),
        (dict(Name="/aws/reserved/x", Value="v", Type="String"), "AccessDeniedException"),
        (dict(Name="has space", Value="v", Type="String"), "ValidationException"),
        (dict(Name="".join(f"/l{i}" for i in range(16)), Value="v", Type="String"),
         "HierarchyLevelLimitExceededException"),
        (dict(Name=unique("n"), Value="v"), "ValidationException"),
        (dict(Name=unique("n"), Value="x" * 4097, Type="String"), "ValidationException"),
        (dict(Name=unique("n"), Value="abc", Type="String", AllowedPattern=r"^\d+$"),
         "ParameterPatternMismatchException"),
        (dict(Name=unique("n"), Value="1", Type="String", AllowedPattern="("), "InvalidAllowedPatternException"),
        (dict(Name=unique("n"), Value="v", Type="String", DataType="Text"), "ValidationException"),
        (dict(Name=unique("n"), Value="v", Type="String", Overwrite=True, Tags=[{"Key": "a", "Value": "b"}]),
         "ValidationException"),
    ]
    for kwargs, code in cases:
        with pytest.raises(ClientError) as e:
            ssm.put_parameter(**kwargs)
        assert error_code(e) == code, (kwargs.get("Name"), error_message(e))
    name = f"/{unique('h')}/typed"
    ssm.put_parameter(Name=name, Value="v", Type="String")
    with pytest.raises(ClientError) as e:
        ssm.put_parameter(Name=name, Value="v", Type="StringList", Overwrite=True)
    assert error_code(e) == "HierarchyTypeMismatchException"
    big = unique("adv")
    out = ssm.put_parameter(Name=big, Value="y" * 6000, Type="String", Tier="Advanced")
    assert out["Tier"] == "Advanced"
    with pytest.raises(ClientError) as e:
        ssm.put_parameter(Name=big, Value="small", Overwrite=True, Tier="Standard")
    assert error_code(e) == "ValidationException"


def test_tags(ssm):
    name = f"/{unique('tag')}/p"
    ssm.put_parameter(Name=name, Value="v", Type="String", Tags=[{"Key": "env", "Value": "dev"}])
    ssm.add_tags_to_resource(ResourceType="Parameter", ResourceId=name, Tags=[{"Key": "team", "Value": "blue"}])
    tags = ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=name)["TagList"]
    assert sorted((t["Key"], t["Value"]) for t in tags) == [("env", "dev"), ("team", "blue")]
    ssm.remove_tags_from_resource(ResourceType="Parameter", ResourceId=name, TagKeys=["env"])
    tags = ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=name)["TagList"]
    assert tags == [{"Key": "team", "Value": "blue"}]
    with pytest.raises(ClientError) as e:
        ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId="/no/such")
    assert error_code(e) == "InvalidResourceId"
    with pytest.raises(ClientError) as e:
        ssm.add_tags_to_resource(ResourceType="Parameter", ResourceId=name,
                                 Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(50)])
    assert error_code(e) == "TooManyTagsError"


def test_version_limit_with_a_labelled_oldest(ssm):
    name = unique("hundred")
    for i in range(100):
        ssm.put_parameter(Name=name, Value=f"v{i}", Type="String", Overwrite=True)
    ssm.label_parameter_version(Name=name, ParameterVersion=1, Labels=["pinned"])
    with pytest.raises(ClientError) as e:
        ssm.put_parameter(Name=name, Value="v101", Overwrite=True)
    assert error_code(e) == "ParameterMaxVersionLimitExceeded"
    ssm.unlabel_parameter_version(Name=name, ParameterVersion=1, Labels=["pinned"])
    assert ssm.put_parameter(Name=name, Value="v101", Overwrite=True)["Version"] == 101
    hist = [p for page in ssm.get_paginator("get_parameter_history").paginate(Name=name) for p in page["Parameters"]]
    assert len(hist) == 100 and hist[0]["Version"] == 2


def test_no_secure_string_plaintext_in_the_database(make_server):
    srv = make_server()
    ssm = srv.ssm_client()
    secrets = {f"/db/{unique('pw')}": f"plaintext-{unique('needle')}" for _ in range(3)}
    for name, value in secrets.items():
        ssm.put_parameter(Name=name, Value=value, Type="SecureString")
        ssm.put_parameter(Name=name, Value=value + "-v2", Type="SecureString", Overwrite=True)
    plain_name = f"/cfg/{unique('plain')}"
    ssm.put_parameter(Name=plain_name, Value="plain-visible-value", Type="String")
    for name, value in secrets.items():
        assert ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"] == value + "-v2"
    assert srv.stop() == 0
    db = srv.data_dir / "trent.db"
    raw = db.read_bytes()
    for extra in ("trent.db-wal", "trent.db-shm"):
        p = srv.data_dir / extra
        if p.exists():
            raw += p.read_bytes()
    for value in secrets.values():
        assert value.encode() not in raw
    assert b"plain-visible-value" in raw  # the scan does see stored values
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = con.execute("SELECT name, type, value FROM ssm_parameter_versions").fetchall()
    finally:
        con.close()
    secure = [r for r in rows if r[1] == "SecureString"]
    assert len(secure) == 6
    for _, _, value in secure:
        blob = bytes(value)
        assert all(s.encode() not in blob for s in secrets.values())
    # After a restart the values still decrypt (the managed key and ciphertexts persisted).
    srv.start()
    ssm = srv.ssm_client()
    for name, value in secrets.items():
        assert ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"] == value + "-v2"


def test_expiration_policy_deletes_advanced_parameter(make_server, tmp_path):
    """The server's scheduler enforces Expiration: the clock is moved through `--dangerous-test-clock-file`."""
    clock_file = tmp_path / "clock-offset"
    clock_file.write_text("0")
    srv = make_server(extra_args=["--dangerous-test-clock-file", str(clock_file), "--scheduler-interval-secs", "1"])
    ssm = srv.ssm_client()
    when = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)).strftime(
        "%Y-%m-%dT%H:%M:%S.000Z")
    policy = json.dumps([{"Type": "Expiration", "Version": "1.0", "Attributes": {"Timestamp": when}}])
    ssm.put_parameter(Name="/exp/soon", Value="v", Type="String", Tier="Advanced", Policies=policy)
    ssm.put_parameter(Name="/exp/stays", Value="v", Type="String")
    meta = ssm.describe_parameters(ParameterFilters=[{"Key": "Name", "Values": ["/exp/soon"]}])["Parameters"][0]
    assert meta["Tier"] == "Advanced"
    assert [p["PolicyType"] for p in meta["Policies"]] == ["Expiration"]
    with pytest.raises(ClientError) as e:
        ssm.put_parameter(Name="/exp/std", Value="v", Type="String", Policies=policy)
    assert error_code(e) == "ValidationException"
    past = json.dumps([{"Type": "Expiration", "Attributes": {"Timestamp": "2001-01-01T00:00:00.000Z"}}])
    with pytest.raises(ClientError) as e:
        ssm.put_parameter(Name="/exp/past", Value="v", Type="String", Tier="Advanced", Policies=past)
    assert error_code(e) == "InvalidPolicyAttributeException"
    time.sleep(1.5)
    assert ssm.get_parameter(Name="/exp/soon")["Parameter"]["Value"] == "v"
    clock_file.write_text(str(2 * 86400))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            ssm.get_parameter(Name="/exp/soon")
        except ClientError as err:
            assert err.response["Error"]["Code"] == "ParameterNotFound"
            break
        time.sleep(0.5)
    else:
        raise AssertionError("the expired parameter was not deleted by the scheduler")
    assert ssm.get_parameter(Name="/exp/stays")["Parameter"]["Value"] == "v"


def test_advanced_secure_string_over_4kb(ssm):
    """Advanced-tier SecureStrings may exceed KMS's 4 KB limit: they are envelope-encrypted."""
    name = f"/{unique('adv')}/cert"
    value = "-----BEGIN CERTIFICATE-----\n" + "A" * 7000 + "\n-----END CERTIFICATE-----"
    ssm.put_parameter(Name=name, Value=value, Type="SecureString", Tier="Advanced")
    got = ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]
    assert got["Value"] == value
    raw = ssm.get_parameter(Name=name)["Parameter"]["Value"]
    assert value[:64] not in raw and len(base64.b64decode(raw)) > 7000
