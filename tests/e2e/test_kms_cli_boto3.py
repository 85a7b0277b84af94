"""End-to-end: the stock AWS CLI and boto3 against a real `trent serve` over verified HTTPS.

Every test makes its own keys and aliases (uuid-suffixed names), so tests do not depend on order. Expected
error texts are AWS's (see /tmp/research/kms-error-texts.md at the time of writing) as implemented in
crates/trent-core and crates/trent-api.
"""

from __future__ import annotations

import base64
import datetime as dt
import http.client
import json
import os
import re
import shlex
import ssl
import subprocess
import uuid
from pathlib import Path
from typing import Optional
from urllib.parse import urlsplit

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from conftest import TrentServer, aws_cli, clean_base_env, trent_bin, unique

# --- helpers ---------------------------------------------------------------------------------------------


def expect_error(call, code: str, message: Optional[str] = None, status: int = 400, **kwargs) -> ClientError:
    """Calls `call(**kwargs)`, which must fail with AWS error `code` (and exactly `message`, if given)."""
    with pytest.raises(ClientError) as info:
        call(**kwargs)
    err = info.value.response["Error"]
    meta = info.value.response["ResponseMetadata"]
    assert err["Code"] == code, info.value.response
    if message is not None:
        assert err.get("Message", "") == message, info.value.response
    assert meta["HTTPStatusCode"] == status, info.value.response
    assert meta.get("RequestId"), "error responses must carry x-amzn-RequestId"
    return info.value


def key_arn(server: TrentServer, account: str, key_id: str) -> str:
    return f"arn:aws:kms:{server.region}:{account}:key/{key_id}"


def alias_arn(server: TrentServer, account: str, name: str) -> str:
    return f"arn:aws:kms:{server.region}:{account}:{name}"


def tamper(blob: bytes) -> bytes:
    """Flips one bit of the authentication tag (the last byte), leaving the header (key id) intact."""
    return blob[:-1] + bytes([blob[-1] ^ 0x01])


AWS_DEFAULT_POLICY = (
    '{\n  "Version" : "2012-10-17",\n  "Id" : "key-default-1",\n  "Statement" : [ {\n'
    '    "Sid" : "Enable IAM User Permissions",\n    "Effect" : "Allow",\n    "Principal" : {\n'
    '      "AWS" : "arn:aws:iam::{account}:root"\n    },\n    "Action" : "kms:*",\n    "Resource" : "*"\n'
    "  } ]\n}"
)

PLAINTEXT_TOO_LONG = (
    "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: "
    "Member must have length less than or equal to 4096"
)
PLAINTEXT_EMPTY = (
    "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: "
    "Member must have length greater than or equal to 1"
)
NUMBER_OF_BYTES_1025 = (
    "1 validation error detected: Value '1025' at 'numberOfBytes' failed to satisfy constraint: "
    "Member must have value less than or equal to 1024"
)
SPEC_OR_BYTES = "Please specify either number of bytes or key spec."
ALIAS_PREFIX = (
    'Alias must start with the prefix "alias/". Please see '
    "https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html"
)
INCORRECT_KEY = "The key ID in the request does not identify a CMK that can perform this operation."
SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your AWS Secret "
    "Access Key and signing method. Consult the service documentation for details."
)


# --- the stock AWS CLI -----------------------------------------------------------------------------------


def test_cli_create_encrypt_decrypt(server, tmp_path):
    key_id = server.aws("kms", "create-key", "--description", unique("cli"), "--query", "KeyMetadata.KeyId",
                        "--output", "text").stdout.decode().strip()
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", key_id), key_id
    plaintext = os.urandom(100) + b"\x00binary\xff"
    (tmp_path / "pt.bin").write_bytes(plaintext)
    ct_b64 = server.aws("kms", "encrypt", "--key-id", key_id, "--plaintext", "fileb://pt.bin",
                        "--encryption-context", "purpose=e2e,app=trent",
                        "--query", "CiphertextBlob", "--output", "text", cwd=tmp_path).stdout.strip()
    (tmp_path / "ct.bin").write_bytes(base64.b64decode(ct_b64))
    out = server.aws("kms", "decrypt", "--ciphertext-blob", "fileb://ct.bin",
                     "--encryption-context", "app=trent,purpose=e2e", "--output", "json", cwd=tmp_path)
    resp = json.loads(out.stdout)
    assert base64.b64decode(resp["Plaintext"]) == plaintext
    assert resp["KeyId"].endswith(f":key/{key_id}")
    assert resp["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"


def test_cli_alias_list_and_describe_by_alias(server):
    meta = json.loads(server.aws("kms", "create-key", "--description", "cli alias").stdout)["KeyMetadata"]
    alias = f"alias/{unique('cli')}"
    out = server.aws("kms", "create-alias", "--alias-name", alias, "--target-key-id", meta["KeyId"])
    assert out.stdout.strip() == b""
    listed = json.loads(server.aws("kms", "list-aliases", "--key-id", meta["KeyId"]).stdout)
    assert [a["AliasName"] for a in listed["Aliases"]] == [alias]
    assert listed["Aliases"][0]["TargetKeyId"] == meta["KeyId"]
    assert listed["Aliases"][0]["AliasArn"] == meta["Arn"].rsplit(":", 1)[0] + ":" + alias
    # Without a filter the CLI's paginator follows every page and merges them.
    all_aliases = json.loads(server.aws("kms", "list-aliases").stdout)["Aliases"]
    assert alias in {a["AliasName"] for a in all_aliases}
    described = json.loads(server.aws("kms", "describe-key", "--key-id", alias).stdout)["KeyMetadata"]
    assert described["KeyId"] == meta["KeyId"]
    assert described["Arn"] == meta["Arn"]
    assert described["KeyState"] == "Enabled"


def test_cli_decrypt_with_wrong_context_fails(server, tmp_path):
    key_id = server.aws("kms", "create-key", "--query", "KeyMetadata.KeyId", "--output", "text").stdout.decode().strip()
    (tmp_path / "pt.txt").write_bytes(b"context matters")
    ct_b64 = server.aws("kms", "encrypt", "--key-id", key_id, "--plaintext", "fileb://pt.txt",
                        "--encryption-context", "tenant=a", "--query", "CiphertextBlob", "--output", "text",
                        cwd=tmp_path).stdout.strip()
    (tmp_path / "ct.bin").write_bytes(base64.b64decode(ct_b64))
    out = server.aws("kms", "decrypt", "--ciphertext-blob", "fileb://ct.bin", "--encryption-context", "tenant=b",
                     cwd=tmp_path, check=False)
    assert out.returncode in (254, 255), out
    assert b"InvalidCiphertextException" in out.stderr, out.stderr
    assert b"context matters" not in out.stdout + out.stderr


# The README's walkthrough, command for command. Each line runs through `bash -c`, so pipes are real; the
# shell gets its AWS settings only from `eval "$(trent env ...)"`, as a reader's would.
README_WALKTHROUGH = [
    "aws kms create-key --description demo --query KeyMetadata.KeyId --output text",
    "aws kms create-alias --alias-name alias/demo --target-key-id $KEY",
    "aws kms encrypt --key-id alias/demo --plaintext fileb://secret.txt --query CiphertextBlob --output text "
    "| base64 -d > secret.enc",
    "aws kms decrypt --ciphertext-blob fileb://secret.enc --query Plaintext --output text | base64 -d",
    "aws kms list-aliases",
]


def run_readme_walkthrough(srv: TrentServer, workdir: Path) -> list:
    """Runs README_WALKTHROUGH in `workdir` (which holds secret.txt); returns each command's result."""
    env_cmd = f'eval "$({shlex.quote(str(trent_bin()))} env --data-dir {shlex.quote(str(srv.data_dir))})"'
    env = clean_base_env()  # no AWS_* settings: they come from the eval, as for a reader
    env["PATH"] = f"{Path(aws_cli()).parent}{os.pathsep}{env.get('PATH', '')}"
    results = []
    for cmd in README_WALKTHROUGH:
        script = f"set -euo pipefail\n{env_cmd}\n{cmd}\n"
        r = subprocess.run(["bash", "-c", script], capture_output=True, env=env, cwd=workdir, timeout=120)
        assert r.returncode == 0, f"README command failed ({r.returncode}): {cmd}\n{r.stderr.decode()}"
        if "KEY" not in env:
            env["KEY"] = r.stdout.decode().strip()
        results.append(r)
    return results


def test_readme_walkthrough(make_server, tmp_path):
    # A server of its own: the README uses the fixed name alias/demo.
    srv = make_server()
    work = tmp_path / "work"
    work.mkdir()
    (work / "secret.txt").write_text("my database password\n")
    created, aliased, encrypted, decrypted, listed = run_readme_walkthrough(srv, work)
    key_id = created.stdout.decode().strip()
    assert re.fullmatch(r"[0-9a-f-]{36}", key_id), created.stdout
    assert aliased.stdout == b""
    assert (work / "secret.enc").stat().st_size > 0
    assert decrypted.stdout == b"my database password\n"
    aliases = json.loads(listed.stdout)["Aliases"]
    assert [(a["AliasName"], a["TargetKeyId"]) for a in aliases] == [("alias/demo", key_id)]


# --- boto3: key lifecycle --------------------------------------------------------------------------------


def test_create_and_describe_key(server, kms, account_id):
    desc = unique("describe")
    meta = kms.create_key(Description=desc, Tags=[{"TagKey": "team", "TagValue": "infra"}])["KeyMetadata"]
    arn = key_arn(server, account_id, meta["KeyId"])
    assert meta["Arn"] == arn
    assert meta["AWSAccountId"] == account_id
    assert meta["Description"] == desc
    assert meta["Enabled"] is True
    assert meta["KeyState"] == "Enabled"
    assert meta["KeyUsage"] == "ENCRYPT_DECRYPT"
    assert meta["KeySpec"] == "SYMMETRIC_DEFAULT"
    assert meta["CustomerMasterKeySpec"] == "SYMMETRIC_DEFAULT"
    assert meta["EncryptionAlgorithms"] == ["SYMMETRIC_DEFAULT"]
    assert meta["KeyManager"] == "CUSTOMER"
    assert meta["Origin"] == "AWS_KMS"
    assert meta["MultiRegion"] is False
    assert "DeletionDate" not in meta
    assert isinstance(meta["CreationDate"], dt.datetime)
    assert abs((dt.datetime.now(dt.timezone.utc) - meta["CreationDate"]).total_seconds()) < 120

    alias = f"alias/{unique('describe')}"
    kms.create_alias(AliasName=alias, TargetKeyId=meta["KeyId"])
    for ref in (meta["KeyId"], arn, alias, alias_arn(server, account_id, alias)):
        got = kms.describe_key(KeyId=ref)["KeyMetadata"]
        assert got["KeyId"] == meta["KeyId"], ref
        assert got["Arn"] == arn
    assert kms.list_resource_tags(KeyId=meta["KeyId"])["Tags"] == [{"TagKey": "team", "TagValue": "infra"}]


def test_create_key_without_description(kms):
    meta = kms.create_key()["KeyMetadata"]
    assert meta["Description"] == ""
    assert kms.describe_key(KeyId=meta["KeyId"])["KeyMetadata"]["Description"] == ""


def test_update_key_description(kms, key):
    kms.update_key_description(KeyId=key["KeyId"], Description="renamed")
    assert kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["Description"] == "renamed"
    kms.update_key_description(KeyId=key["Arn"], Description="")
    assert kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["Description"] == ""


def test_disable_and_enable_key(kms, key):
    ct = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"before")["CiphertextBlob"]
    kms.disable_key(KeyId=key["KeyId"])
    meta = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
    assert (meta["Enabled"], meta["KeyState"]) == (False, "Disabled")
    disabled = f"{key['Arn']} is disabled."
    expect_error(kms.encrypt, "DisabledException", disabled, KeyId=key["KeyId"], Plaintext=b"x")
    expect_error(kms.decrypt, "DisabledException", disabled, CiphertextBlob=ct)
    expect_error(kms.generate_data_key, "DisabledException", disabled, KeyId=key["KeyId"], KeySpec="AES_256")
    kms.disable_key(KeyId=key["KeyId"])  # idempotent
    kms.enable_key(KeyId=key["Arn"])
    meta = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
    assert (meta["Enabled"], meta["KeyState"]) == (True, "Enabled")
    assert kms.decrypt(CiphertextBlob=ct)["Plaintext"] == b"before"


def test_schedule_and_cancel_key_deletion(kms, key):
    arn = key["Arn"]
    ct = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"doomed")["CiphertextBlob"]
    before = dt.datetime.now(dt.timezone.utc)
    res = kms.schedule_key_deletion(KeyId=key["KeyId"])
    assert res["KeyId"] == arn
    assert res["KeyState"] == "PendingDeletion"
    assert res["PendingWindowInDays"] == 30
    assert abs((res["DeletionDate"] - before - dt.timedelta(days=30)).total_seconds()) < 120

    meta = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
    assert (meta["Enabled"], meta["KeyState"]) == (False, "PendingDeletion")
    assert meta["DeletionDate"] == res["DeletionDate"]

    pending = f"{arn} is pending deletion."
    expect_error(kms.encrypt, "KMSInvalidStateException", pending, KeyId=key["KeyId"], Plaintext=b"x")
    expect_error(kms.decrypt, "KMSInvalidStateException", pending, CiphertextBlob=ct)
    expect_error(kms.generate_data_key, "KMSInvalidStateException", pending, KeyId=key["KeyId"], NumberOfBytes=16)
    expect_error(kms.enable_key, "KMSInvalidStateException", pending, KeyId=key["KeyId"])
    expect_error(kms.schedule_key_deletion, "KMSInvalidStateException", pending, KeyId=key["KeyId"])
    expect_error(kms.tag_resource, "KMSInvalidStateException", pending, KeyId=key["KeyId"],
                 Tags=[{"TagKey": "k", "TagValue": "v"}])
    expect_error(kms.create_alias, "KMSInvalidStateException", pending, AliasName=f"alias/{unique('pd')}",
                 TargetKeyId=key["KeyId"])
    expect_error(kms.update_key_description, "KMSInvalidStateException", pending, KeyId=key["KeyId"],
                 Description="nope")
    expect_error(kms.disable_key, "KMSInvalidStateException", pending, KeyId=key["KeyId"])

    assert kms.cancel_key_deletion(KeyId=key["KeyId"])["KeyId"] == arn
    meta = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
    assert (meta["Enabled"], meta["KeyState"]) == (False, "Disabled")
    assert "DeletionDate" not in meta
    expect_error(kms.cancel_key_deletion, "KMSInvalidStateException", f"{arn} is not pending deletion.",
                 KeyId=key["KeyId"])
    kms.enable_key(KeyId=key["KeyId"])
    assert kms.decrypt(CiphertextBlob=ct)["Plaintext"] == b"doomed"


def test_schedule_key_deletion_custom_window(kms, key):
    res = kms.schedule_key_deletion(KeyId=key["Arn"], PendingWindowInDays=7)
    assert res["PendingWindowInDays"] == 7
    kms.cancel_key_deletion(KeyId=key["Arn"])


def test_cancel_deletion_of_enabled_key(kms, key):
    expect_error(kms.cancel_key_deletion, "KMSInvalidStateException", f"{key['Arn']} is not pending deletion.",
                 KeyId=key["KeyId"])


@pytest.mark.parametrize("days", [6, 31])
def test_pending_window_out_of_range(kms, key, days):
    expect_error(kms.schedule_key_deletion, "ValidationException", "PendingWindowInDays must be between 7 and 30",
                 KeyId=key["KeyId"], PendingWindowInDays=days)
    assert kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] == "Enabled"


def test_unknown_key(server, kms, account_id):
    missing = str(uuid.uuid4())
    msg = f"Key '{key_arn(server, account_id, missing)}' does not exist"
    expect_error(kms.describe_key, "NotFoundException", msg, KeyId=missing)
    expect_error(kms.encrypt, "NotFoundException", msg, KeyId=missing, Plaintext=b"x")
    expect_error(kms.describe_key, "NotFoundException", msg, KeyId=key_arn(server, account_id, missing))


def test_unknown_alias(server, kms, account_id):
    name = f"alias/{unique('missing')}"
    msg = f"Alias {alias_arn(server, account_id, name)} is not found."
    expect_error(kms.describe_key, "NotFoundException", msg, KeyId=name)
    expect_error(kms.encrypt, "NotFoundException", msg, KeyId=name, Plaintext=b"x")
    expect_error(kms.delete_alias, "NotFoundException", msg, AliasName=name)


@pytest.mark.parametrize("bad", ["foo", "1234abcd12ab34cd56ef1234567890ab"])
def test_malformed_key_id(kms, bad):
    expect_error(kms.describe_key, "NotFoundException", f"Invalid keyId '{bad}'", KeyId=bad)


def test_list_keys_includes_new_key(kms, key):
    seen = {}
    for page in kms.get_paginator("list_keys").paginate():
        for k in page["Keys"]:
            seen[k["KeyId"]] = k["KeyArn"]
    assert seen[key["KeyId"]] == key["Arn"]


def test_list_keys_pagination(kms):
    mine = {kms.create_key(Description=unique("page"))["KeyMetadata"]["KeyId"] for _ in range(3)}
    seen, marker, pages = [], None, 0
    while True:
        kwargs = {"Limit": 2, **({"Marker": marker} if marker else {})}
        page = kms.list_keys(**kwargs)
        pages += 1
        assert len(page["Keys"]) <= 2
        seen += [k["KeyId"] for k in page["Keys"]]
        if not page["Truncated"]:
            assert "NextMarker" not in page
            break
        assert len(page["Keys"]) == 2
        marker = page["NextMarker"]
        assert marker
    assert pages >= 2
    assert len(seen) == len(set(seen)), "a key was listed twice across pages"
    assert mine <= set(seen)
    # A limit of 1 over the whole listing visits every key exactly once too.
    one_by_one = [k["KeyId"] for p in kms.get_paginator("list_keys").paginate(PaginationConfig={"PageSize": 1})
                  for k in p["Keys"]]
    assert sorted(one_by_one) == sorted(seen)


def test_list_keys_limit_out_of_range(kms):
    expect_error(kms.list_keys, "ValidationException",
                 "1 validation error detected: Value '1001' at 'limit' failed to satisfy constraint: "
                 "Member must have value less than or equal to 1000", Limit=1001)


# --- boto3: cryptographic operations ---------------------------------------------------------------------


def test_encrypt_decrypt_roundtrip(kms, key):
    ctx = {"tenant": "acme", "purpose": "e2e"}
    for size in (1, 100, 4096):
        pt = os.urandom(size)
        enc = kms.encrypt(KeyId=key["KeyId"], Plaintext=pt, EncryptionContext=ctx)
        assert enc["KeyId"] == key["Arn"]
        assert enc["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
        assert enc["ResponseMetadata"]["RequestId"]
        dec = kms.decrypt(CiphertextBlob=enc["CiphertextBlob"], EncryptionContext=dict(reversed(ctx.items())))
        assert dec["Plaintext"] == pt
        assert dec["KeyId"] == key["Arn"]
        assert dec["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    # Two encryptions of the same plaintext differ (fresh IV).
    a = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"same")["CiphertextBlob"]
    b = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"same")["CiphertextBlob"]
    assert a != b


def test_decrypt_with_matching_key_id(server, kms, key, account_id):
    alias = f"alias/{unique('dec')}"
    kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
    ct = kms.encrypt(KeyId=alias, Plaintext=b"via alias")["CiphertextBlob"]
    for ref in (key["KeyId"], key["Arn"], alias, alias_arn(server, account_id, alias)):
        assert kms.decrypt(CiphertextBlob=ct, KeyId=ref)["Plaintext"] == b"via alias"


def test_decrypt_wrong_or_missing_context(kms, key):
    ct = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"secret", EncryptionContext={"a": "1"})["CiphertextBlob"]
    expect_error(kms.decrypt, "InvalidCiphertextException", "", CiphertextBlob=ct, EncryptionContext={"a": "2"})
    expect_error(kms.decrypt, "InvalidCiphertextException", "", CiphertextBlob=ct)
    expect_error(kms.decrypt, "InvalidCiphertextException", "", CiphertextBlob=ct,
                 EncryptionContext={"a": "1", "b": "2"})
    # And a context where none was used.
    ct2 = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"secret")["CiphertextBlob"]
    expect_error(kms.decrypt, "InvalidCiphertextException", "", CiphertextBlob=ct2, EncryptionContext={"a": "1"})


def test_decrypt_tampered_blob(kms, key):
    ct = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"integrity")["CiphertextBlob"]
    expect_error(kms.decrypt, "InvalidCiphertextException", "", CiphertextBlob=tamper(ct))
    expect_error(kms.decrypt, "InvalidCiphertextException", "", CiphertextBlob=ct[:-5])
    expect_error(kms.decrypt, "InvalidCiphertextException", "", CiphertextBlob=b"not a kms ciphertext at all")


def test_decrypt_with_other_key_id(kms, key):
    other = kms.create_key()["KeyMetadata"]
    ct = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"mine")["CiphertextBlob"]
    expect_error(kms.decrypt, "IncorrectKeyException", INCORRECT_KEY, CiphertextBlob=ct, KeyId=other["KeyId"])
    expect_error(kms.re_encrypt, "IncorrectKeyException", INCORRECT_KEY, CiphertextBlob=ct,
                 SourceKeyId=other["KeyId"], DestinationKeyId=other["KeyId"])


def test_plaintext_too_long(kms, key):
    expect_error(kms.encrypt, "ValidationException", PLAINTEXT_TOO_LONG, KeyId=key["KeyId"], Plaintext=b"x" * 4097)


def test_plaintext_empty(kms, key):
    expect_error(kms.encrypt, "ValidationException", PLAINTEXT_EMPTY, KeyId=key["KeyId"], Plaintext=b"")


def test_re_encrypt(kms, key):
    dest = kms.create_key()["KeyMetadata"]
    ct = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"move me", EncryptionContext={"v": "1"})["CiphertextBlob"]
    res = kms.re_encrypt(CiphertextBlob=ct, SourceEncryptionContext={"v": "1"}, DestinationKeyId=dest["KeyId"],
                         DestinationEncryptionContext={"v": "2"})
    assert res["SourceKeyId"] == key["Arn"]
    assert res["KeyId"] == dest["Arn"]
    assert res["SourceEncryptionAlgorithm"] == res["DestinationEncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    dec = kms.decrypt(CiphertextBlob=res["CiphertextBlob"], EncryptionContext={"v": "2"})
    assert (dec["Plaintext"], dec["KeyId"]) == (b"move me", dest["Arn"])
    expect_error(kms.re_encrypt, "InvalidCiphertextException", "", CiphertextBlob=ct,
                 DestinationKeyId=dest["KeyId"])


@pytest.mark.parametrize("kwargs,size", [({"KeySpec": "AES_256"}, 32), ({"KeySpec": "AES_128"}, 16),
                                         ({"NumberOfBytes": 1}, 1), ({"NumberOfBytes": 1024}, 1024)])
def test_generate_data_key(kms, key, kwargs, size):
    res = kms.generate_data_key(KeyId=key["KeyId"], EncryptionContext={"f": "g"}, **kwargs)
    assert len(res["Plaintext"]) == size
    assert res["KeyId"] == key["Arn"]
    dec = kms.decrypt(CiphertextBlob=res["CiphertextBlob"], EncryptionContext={"f": "g"})
    assert dec["Plaintext"] == res["Plaintext"]


def test_generate_data_key_without_plaintext(kms, key):
    res = kms.generate_data_key_without_plaintext(KeyId=key["KeyId"], KeySpec="AES_256")
    assert "Plaintext" not in res
    assert res["KeyId"] == key["Arn"]
    assert len(kms.decrypt(CiphertextBlob=res["CiphertextBlob"])["Plaintext"]) == 32


def test_generate_data_key_spec_xor_bytes(kms, key):
    expect_error(kms.generate_data_key, "ValidationException", SPEC_OR_BYTES, KeyId=key["KeyId"],
                 KeySpec="AES_256", NumberOfBytes=32)
    expect_error(kms.generate_data_key, "ValidationException", SPEC_OR_BYTES, KeyId=key["KeyId"])
    expect_error(kms.generate_data_key_without_plaintext, "ValidationException", SPEC_OR_BYTES, KeyId=key["KeyId"])


def test_generate_data_key_too_many_bytes(kms, key):
    expect_error(kms.generate_data_key, "ValidationException", NUMBER_OF_BYTES_1025, KeyId=key["KeyId"],
                 NumberOfBytes=1025)


def test_generate_random(kms):
    for n in (1, 32, 1024):
        assert len(kms.generate_random(NumberOfBytes=n)["Plaintext"]) == n
    assert kms.generate_random(NumberOfBytes=32)["Plaintext"] != kms.generate_random(NumberOfBytes=32)["Plaintext"]
    expect_error(kms.generate_random, "ValidationException", NUMBER_OF_BYTES_1025, NumberOfBytes=1025)
    expect_error(kms.generate_random, "ValidationException", "NumberOfBytes is required.")


def test_decrypt_blob_of_unknown_key(kms, key):
    """A blob naming a key that does not exist (format v1: key id at bytes 1..17) is AccessDenied, as in AWS."""
    ct = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"orphan")["CiphertextBlob"]
    forged = ct[:1] + uuid.uuid4().bytes + ct[17:]
    expect_error(kms.decrypt, "AccessDeniedException",
                 "The ciphertext refers to a customer master key that does not exist, does not exist in this "
                 "region, or you are not allowed to access.", CiphertextBlob=forged)


def test_key_arn_of_other_region(kms, key, server):
    other_region = "eu-west-1" if server.region != "eu-west-1" else "us-west-2"
    arn = key["Arn"].replace(f":{server.region}:", f":{other_region}:")
    expect_error(kms.describe_key, "NotFoundException", f"Invalid arn {other_region}", KeyId=arn)


def test_dry_run(kms, key):
    expect_error(kms.encrypt, "DryRunOperationException",
                 "The request would have succeeded, but the DryRun option is set.", KeyId=key["KeyId"],
                 Plaintext=b"x", DryRun=True, status=412)


def test_asymmetric_algorithm_on_symmetric_key(kms, key):
    expect_error(kms.encrypt, "InvalidKeyUsageException", KeyId=key["KeyId"], Plaintext=b"x",
                 EncryptionAlgorithm="RSAES_OAEP_SHA_256")


def test_unsupported_key_spec(kms):
    # SM2 exists only in AWS's China Regions; ML-DSA is not available in Trent yet.
    expect_error(kms.create_key, "UnsupportedOperationException", KeySpec="SM2", KeyUsage="SIGN_VERIFY")
    expect_error(kms.create_key, "UnsupportedOperationException", KeySpec="ML_DSA_65", KeyUsage="SIGN_VERIFY")


# --- boto3: aliases --------------------------------------------------------------------------------------


def test_alias_lifecycle(server, kms, account_id, key):
    other = kms.create_key()["KeyMetadata"]
    name = f"alias/{unique('life')}"
    kms.create_alias(AliasName=name, TargetKeyId=key["KeyId"])
    [entry] = kms.list_aliases(KeyId=key["KeyId"])["Aliases"]
    assert entry["AliasName"] == name
    assert entry["AliasArn"] == alias_arn(server, account_id, name)
    assert entry["TargetKeyId"] == key["KeyId"]
    assert isinstance(entry["CreationDate"], dt.datetime)
    assert isinstance(entry["LastUpdatedDate"], dt.datetime)

    kms.update_alias(AliasName=name, TargetKeyId=other["Arn"])
    assert kms.describe_key(KeyId=name)["KeyMetadata"]["KeyId"] == other["KeyId"]
    assert kms.list_aliases(KeyId=key["KeyId"])["Aliases"] == []
    assert [a["AliasName"] for a in kms.list_aliases(KeyId=other["KeyId"])["Aliases"]] == [name]
    ct = kms.encrypt(KeyId=name, Plaintext=b"aliased")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=ct)["KeyId"] == other["Arn"]

    kms.delete_alias(AliasName=name)
    expect_error(kms.describe_key, "NotFoundException", f"Alias {alias_arn(server, account_id, name)} is not found.",
                 KeyId=name)
    assert kms.list_aliases(KeyId=other["KeyId"])["Aliases"] == []
    # The name is free again.
    kms.create_alias(AliasName=name, TargetKeyId=key["KeyId"])


def test_duplicate_alias(server, kms, account_id, key):
    name = f"alias/{unique('dup')}"
    kms.create_alias(AliasName=name, TargetKeyId=key["KeyId"])
    expect_error(kms.create_alias, "AlreadyExistsException",
                 f"An alias with the name {alias_arn(server, account_id, name)} already exists",
                 AliasName=name, TargetKeyId=kms.create_key()["KeyMetadata"]["KeyId"])


def test_alias_without_prefix(kms, key):
    expect_error(kms.create_alias, "ValidationException", ALIAS_PREFIX, AliasName=unique("noprefix"),
                 TargetKeyId=key["KeyId"])


def test_alias_in_reserved_aws_namespace(kms, key):
    expect_error(kms.create_alias, "NotAuthorizedException", "", AliasName=f"alias/aws/{unique('x')}",
                 TargetKeyId=key["KeyId"])


def test_alias_must_target_a_key(kms, key):
    name = f"alias/{unique('target')}"
    kms.create_alias(AliasName=name, TargetKeyId=key["KeyId"])
    expect_error(kms.create_alias, "ValidationException", "Aliases must refer to keys. Not aliases",
                 AliasName=f"alias/{unique('chain')}", TargetKeyId=name)


@pytest.mark.parametrize("name,message", [
    ("alias/Service:Test", "alias/Service:Test contains invalid characters for an alias"),
    ("alias/my-alias!", "1 validation error detected: Value 'alias/my-alias!' at 'aliasName' failed to satisfy "
                        "constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$"),
])
def test_alias_invalid_characters(kms, key, name, message):
    expect_error(kms.create_alias, "ValidationException", message, AliasName=name, TargetKeyId=key["KeyId"])


def test_update_unknown_alias(server, kms, account_id, key):
    name = f"alias/{unique('nope')}"
    expect_error(kms.update_alias, "NotFoundException", f"Alias {alias_arn(server, account_id, name)} is not found.",
                 AliasName=name, TargetKeyId=key["KeyId"])


def test_list_aliases_pagination(kms, key):
    names = sorted(f"alias/{unique('pg')}" for _ in range(3))
    for n in names:
        kms.create_alias(AliasName=n, TargetKeyId=key["KeyId"])
    p1 = kms.list_aliases(KeyId=key["KeyId"], Limit=2)
    assert p1["Truncated"] is True and p1["NextMarker"]
    assert len(p1["Aliases"]) == 2
    p2 = kms.list_aliases(KeyId=key["KeyId"], Limit=2, Marker=p1["NextMarker"])
    assert p2["Truncated"] is False and "NextMarker" not in p2
    assert len(p2["Aliases"]) == 1
    assert sorted(a["AliasName"] for a in p1["Aliases"] + p2["Aliases"]) == names
    # The paginator over the unfiltered listing sees each alias once.
    every = [a["AliasName"] for p in kms.get_paginator("list_aliases").paginate(PaginationConfig={"PageSize": 2})
             for a in p["Aliases"]]
    assert len(every) == len(set(every))
    assert set(names) <= set(every)


# --- boto3: tags -----------------------------------------------------------------------------------------


def test_tags(kms, key):
    kms.tag_resource(KeyId=key["KeyId"], Tags=[{"TagKey": "env", "TagValue": "test"},
                                                {"TagKey": "owner", "TagValue": "e2e"}])
    kms.tag_resource(KeyId=key["Arn"], Tags=[{"TagKey": "env", "TagValue": "prod"}])  # replaces the value
    tags = kms.list_resource_tags(KeyId=key["KeyId"])
    assert sorted((t["TagKey"], t["TagValue"]) for t in tags["Tags"]) == [("env", "prod"), ("owner", "e2e")]
    assert tags["Truncated"] is False
    kms.untag_resource(KeyId=key["KeyId"], TagKeys=["env", "not-there"])
    assert kms.list_resource_tags(KeyId=key["KeyId"])["Tags"] == [{"TagKey": "owner", "TagValue": "e2e"}]
    kms.untag_resource(KeyId=key["KeyId"], TagKeys=["owner"])
    assert kms.list_resource_tags(KeyId=key["KeyId"])["Tags"] == []


@pytest.mark.parametrize("tag_key", ["aws:owner", "AWS:owner"])
def test_reserved_tag_prefix(kms, key, tag_key):
    reserved = "Tags beginning with aws: are reserved"
    expect_error(kms.tag_resource, "TagException", reserved, KeyId=key["KeyId"],
                 Tags=[{"TagKey": tag_key, "TagValue": "x"}])
    expect_error(kms.create_key, "TagException", reserved, Tags=[{"TagKey": tag_key, "TagValue": "x"}])
    assert kms.list_resource_tags(KeyId=key["KeyId"])["Tags"] == []


def test_tag_limits(kms, key):
    expect_error(kms.tag_resource, "TagException", "Duplicate tag keys", KeyId=key["KeyId"],
                 Tags=[{"TagKey": "a", "TagValue": "1"}, {"TagKey": "a", "TagValue": "2"}])
    expect_error(kms.tag_resource, "TagException", "Too many tags", KeyId=key["KeyId"],
                 Tags=[{"TagKey": f"k{i}", "TagValue": "v"} for i in range(51)])
    long_key = "k" * 129
    expect_error(kms.tag_resource, "ValidationException",
                 f"1 validation error detected: Value '{long_key}' at 'tags.1.member.tagKey' failed to satisfy "
                 "constraint: Member must have length less than or equal to 128", KeyId=key["KeyId"],
                 Tags=[{"TagKey": long_key, "TagValue": "v"}])
    assert kms.list_resource_tags(KeyId=key["KeyId"])["Tags"] == []


def test_tags_on_alias_are_refused(kms, key):
    name = f"alias/{unique('tag')}"
    kms.create_alias(AliasName=name, TargetKeyId=key["KeyId"])
    expect_error(kms.tag_resource, "NotFoundException", f"Invalid keyId '{name}'", KeyId=name,
                 Tags=[{"TagKey": "a", "TagValue": "b"}])


def test_list_resource_tags_pagination(kms, key):
    tags = [{"TagKey": f"k{i}", "TagValue": f"v{i}"} for i in range(5)]
    kms.tag_resource(KeyId=key["KeyId"], Tags=tags)
    pages, marker = [], None
    while True:
        page = kms.list_resource_tags(KeyId=key["KeyId"], Limit=2, **({"Marker": marker} if marker else {}))
        pages.append(page["Tags"])
        if not page["Truncated"]:
            assert "NextMarker" not in page
            break
        marker = page["NextMarker"]
    assert [len(p) for p in pages] == [2, 2, 1]
    assert sorted((t["TagKey"], t["TagValue"]) for p in pages for t in p) == sorted(
        (t["TagKey"], t["TagValue"]) for t in tags)


# --- boto3: key policies ---------------------------------------------------------------------------------


def test_default_key_policy(kms, key, account_id):
    res = kms.get_key_policy(KeyId=key["KeyId"], PolicyName="default")
    assert res["Policy"] == AWS_DEFAULT_POLICY.replace("{account}", account_id)
    assert json.loads(res["Policy"])["Statement"][0]["Principal"]["AWS"] == f"arn:aws:iam::{account_id}:root"
    # PolicyName is optional in newer models.
    assert kms.get_key_policy(KeyId=key["Arn"])["Policy"] == res["Policy"]
    assert kms.list_key_policies(KeyId=key["KeyId"])["PolicyNames"] == ["default"]


def test_put_key_policy(kms, key, account_id):
    policy = json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Sid": "root", "Effect": "Allow",
                       "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"}, "Action": "kms:*",
                       "Resource": "*"}],
    }, indent=1)
    kms.put_key_policy(KeyId=key["KeyId"], PolicyName="default", Policy=policy)
    assert kms.get_key_policy(KeyId=key["KeyId"], PolicyName="default")["Policy"] == policy


def test_put_key_policy_invalid_json(kms, key, account_id):
    expect_error(kms.put_key_policy, "MalformedPolicyDocumentException", "", KeyId=key["KeyId"],
                 PolicyName="default", Policy="{not json")
    assert kms.get_key_policy(KeyId=key["KeyId"])["Policy"] == AWS_DEFAULT_POLICY.replace("{account}", account_id)


def test_key_policy_other_name(kms, key):
    expect_error(kms.get_key_policy, "NotFoundException", "No such policy exists", KeyId=key["KeyId"],
                 PolicyName="other")


# --- boto3: protocol and authentication ------------------------------------------------------------------


def test_unimplemented_operation(kms, key, account_id):
    e = expect_error(kms.update_primary_region, "UnsupportedOperationException", KeyId=key["KeyId"],
                     PrimaryRegion="eu-west-1")
    assert "UpdatePrimaryRegion" in e.response["Error"]["Message"]


def test_wrong_secret_key(server):
    bad = server.client(secret_key="x" * 40)
    expect_error(bad.list_keys, "InvalidSignatureException", SIGNATURE_MISMATCH)


def test_unknown_access_key(server):
    bad = server.client(access_key="AKIA" + "Z" * 16, secret_key="y" * 40)
    expect_error(bad.list_keys, "UnrecognizedClientException", "The security token included in the request is invalid.")


def test_tls_is_verified_against_trent_ca(server):
    """The CA from `trent env` is what makes HTTPS work: the system trust store alone must refuse the server."""
    from botocore.exceptions import SSLError

    with pytest.raises(SSLError):
        server.client(verify=True).list_keys(Limit=1)


class RawKms:
    """Signs arbitrary bodies with SigV4 (botocore's signer) and sends them with http.client over TLS."""

    def __init__(self, srv: TrentServer):
        self.srv = srv
        self.creds = Credentials(srv.aws_vars["AWS_ACCESS_KEY_ID"], srv.aws_vars["AWS_SECRET_ACCESS_KEY"])
        self.url = srv.aws_vars["AWS_ENDPOINT_URL"]

    def send(self, target: Optional[str], body: bytes, sign: bool = True):
        headers = {"Content-Type": "application/x-amz-json-1.1"}
        if target is not None:
            headers["X-Amz-Target"] = target
        req = AWSRequest(method="POST", url=self.url + "/", data=body, headers=headers)
        if sign:
            SigV4Auth(self.creds, "kms", self.srv.region).add_auth(req)
        parts = urlsplit(self.url)
        conn = http.client.HTTPSConnection(parts.hostname, parts.port, timeout=30,
                                           context=ssl.create_default_context(cafile=self.srv.ca_bundle))
        try:
            conn.request("POST", "/", body=body, headers=dict(req.headers.items()))
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
        finally:
            conn.close()


@pytest.fixture(scope="module")
def raw(server):
    return RawKms(server)


def assert_aws_error(status, headers, data, code, expect_status=400):
    assert status == expect_status, (status, data)
    assert headers.get("x-amzn-requestid"), headers
    assert headers.get("content-type", "").startswith("application/x-amz-json-1.1"), headers
    body = json.loads(data)
    assert body["__type"] == code, body
    return body


def test_raw_valid_request(raw):
    status, headers, data = raw.send("TrentService.GenerateRandom", b'{"NumberOfBytes": 8}')
    assert status == 200, data
    assert headers.get("x-amzn-requestid")
    assert len(base64.b64decode(json.loads(data)["Plaintext"])) == 8


def test_raw_malformed_json(raw):
    body = assert_aws_error(*raw.send("TrentService.GenerateRandom", b'{"NumberOfBytes": '), "SerializationException")
    assert "message" not in body and "Message" not in body


def test_raw_unknown_operation(raw):
    body = assert_aws_error(*raw.send("TrentService.Nope", b"{}"), "UnknownOperationException")
    assert "message" not in body and "Message" not in body


def test_raw_missing_target(raw):
    assert_aws_error(*raw.send(None, b"{}"), "UnknownOperationException")


def oversize_body(kib: int) -> bytes:
    return json.dumps({"NumberOfBytes": 8, "Padding": "x" * (kib * 1024)}).encode()


def test_raw_oversize_body(raw):
    """A 600 KB body (over the 512 KiB cap) gets a 400 with a JSON error, not 413/500.

    Retries on a connection error so that this test is about what the response says; the next test checks that
    the response always arrives."""
    errors = []
    for _ in range(20):
        try:
            status, headers, data = raw.send("TrentService.GenerateRandom", oversize_body(600))
        except (OSError, http.client.HTTPException) as e:
            errors.append(repr(e))
            continue
        body = assert_aws_error(status, headers, data, "ValidationException")
        assert "larger than the maximum" in body["message"], body
        return
    pytest.fail(f"no response to 20 oversize requests: {errors[:3]}")


def test_oversize_body_response_always_reaches_client(raw):
    """Clients send the whole body before reading the answer; the server reads (and discards) an oversize body
    up to a bound so that the 400 always arrives instead of a reset connection."""
    for kib in [600] * 20 + [4096] * 5:
        status, headers, data = raw.send("TrentService.GenerateRandom", oversize_body(kib))
        assert_aws_error(status, headers, data, "ValidationException")


def test_raw_unsigned_request(raw):
    status, headers, data = raw.send("TrentService.ListKeys", b"{}", sign=False)
    body = assert_aws_error(status, headers, data, "MissingAuthenticationTokenException")
    assert body.get("message") or body.get("Message")


def test_raw_missing_and_empty_key_id(raw):
    body = assert_aws_error(*raw.send("TrentService.DescribeKey", b"{}"), "ValidationException")
    assert body["message"] == ("1 validation error detected: Value null at 'keyId' failed to satisfy constraint: "
                               "Member must not be null")
    body = assert_aws_error(*raw.send("TrentService.DescribeKey", b'{"KeyId": ""}'), "ValidationException")
    assert body["message"] == ("1 validation error detected: Value '' at 'keyId' failed to satisfy constraint: "
                               "Member must have length greater than or equal to 1")


def test_raw_invalid_base64_blob(raw):
    assert_aws_error(*raw.send("TrentService.Decrypt", b'{"CiphertextBlob": "***not base64***"}'),
                     "SerializationException")


def test_raw_wrong_json_type(raw):
    assert_aws_error(*raw.send("TrentService.GenerateRandom", b'{"NumberOfBytes": "eight"}'),
                     "SerializationException")


def test_raw_unknown_members_are_ignored(raw):
    status, _, data = raw.send("TrentService.GenerateRandom", b'{"NumberOfBytes": 4, "SomeFutureMember": true}')
    assert status == 200, data


# --- restart and plain HTTP ------------------------------------------------------------------------------


def test_restart_keeps_keys_aliases_tags(make_server, tmp_path):
    data_dir = tmp_path / "persist"
    first = make_server(data_dir)
    c = first.client()
    meta = c.create_key(Description="survives restarts")["KeyMetadata"]
    alias = f"alias/{unique('restart')}"
    c.create_alias(AliasName=alias, TargetKeyId=meta["KeyId"])
    c.tag_resource(KeyId=meta["KeyId"], Tags=[{"TagKey": "keep", "TagValue": "me"}])
    c.disable_key(KeyId=meta["KeyId"])
    c.enable_key(KeyId=meta["KeyId"])
    ct = c.encrypt(KeyId=alias, Plaintext=b"still here", EncryptionContext={"r": "1"})["CiphertextBlob"]
    old_creds = (first.aws_vars["AWS_ACCESS_KEY_ID"], first.aws_vars["AWS_SECRET_ACCESS_KEY"])
    assert first.stop() == 0, first.stderr_tail()

    second = make_server(data_dir)
    assert (second.aws_vars["AWS_ACCESS_KEY_ID"], second.aws_vars["AWS_SECRET_ACCESS_KEY"]) == old_creds
    c2 = second.client()
    dec = c2.decrypt(CiphertextBlob=ct, EncryptionContext={"r": "1"})
    assert (dec["Plaintext"], dec["KeyId"]) == (b"still here", meta["Arn"])
    got = c2.describe_key(KeyId=alias)["KeyMetadata"]
    assert (got["KeyId"], got["Description"], got["KeyState"]) == (meta["KeyId"], "survives restarts", "Enabled")
    assert got["CreationDate"] == meta["CreationDate"]
    assert c2.list_resource_tags(KeyId=meta["KeyId"])["Tags"] == [{"TagKey": "keep", "TagValue": "me"}]
    assert [k["KeyId"] for k in c2.list_keys()["Keys"]] == [meta["KeyId"]]
    assert second.stop() == 0, second.stderr_tail()


def test_insecure_http_listener(make_server):
    srv = make_server(insecure_http=True)
    assert srv.http_url and srv.http_url.startswith("http://127.0.0.1:")
    c = srv.client(endpoint_url=srv.http_url, verify=False)
    key_id = c.create_key(Description="over plain http")["KeyMetadata"]["KeyId"]
    ct = c.encrypt(KeyId=key_id, Plaintext=b"cleartext transport")["CiphertextBlob"]
    assert c.decrypt(CiphertextBlob=ct)["Plaintext"] == b"cleartext transport"
    # The HTTPS listener keeps working beside it, on the same data.
    assert srv.client().describe_key(KeyId=key_id)["KeyMetadata"]["Description"] == "over plain http"
