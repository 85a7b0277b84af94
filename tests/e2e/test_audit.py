"""End-to-end: the audit trail of a real `trent serve` (issue 4, items 1-3).

A mix of allowed and failing boto3 calls (including ones that fail authentication) must each leave one
CloudTrail record with the right eventName/errorCode; no plaintext, data key, random bytes or ciphertext
blob used in the test may appear in any trail file (raw or base64, at any alignment); `trent audit verify`
must pass on the untouched trail and fail, naming the place, after one byte of a segment is changed.
"""

from __future__ import annotations

import base64
import gzip
import json
import os
import subprocess
import time
import uuid
from pathlib import Path
from urllib.parse import urlparse

import pytest
from botocore.exceptions import ClientError

from conftest import clean_base_env, trail_records, trent_bin


def request_id(resp_or_error) -> str:
    if isinstance(resp_or_error, ClientError):
        return resp_or_error.response["ResponseMetadata"]["RequestId"]
    return resp_or_error["ResponseMetadata"]["RequestId"]


def failing(call, **kwargs) -> ClientError:
    with pytest.raises(ClientError) as e:
        call(**kwargs)
    return e.value


def trail_events(audit_dir: Path):
    return [rec["event"] for rec in trail_records(audit_dir) if "event" in rec]


def secret_needles(secret: bytes):
    """The secret raw, and the inner part of its base64 at each of the three alignments."""
    needles = [secret]
    for shift in range(3):
        b64 = base64.b64encode(secret[shift:])
        needles.append(b64[4:-4])
    return needles


def verify(data_dir: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(trent_bin()), "audit", "verify", "--data-dir", str(data_dir), *extra],
                          capture_output=True, text=True, env=clean_base_env(), timeout=60)


def test_trail_records_every_call_without_secrets_and_verifies(make_server):
    srv = make_server()
    kms = srv.client()
    secrets = []  # every secret value that crossed the wire in this test

    key = kms.create_key(Description="audit e2e")["KeyMetadata"]
    key_id, key_arn = key["KeyId"], key["Arn"]
    context = {"purpose": "audit-e2e", "tenant": "t-42"}

    p1 = b"audit plaintext one " + uuid.uuid4().hex.encode()
    p2 = b"audit plaintext two " + uuid.uuid4().hex.encode()
    p3 = b"audit plaintext three " + uuid.uuid4().hex.encode()
    secrets += [p1, p2, p3]

    enc = kms.encrypt(KeyId=key_id, Plaintext=p1, EncryptionContext=context)
    secrets.append(enc["CiphertextBlob"])
    dec = kms.decrypt(CiphertextBlob=enc["CiphertextBlob"], EncryptionContext=context)
    assert dec["Plaintext"] == p1
    dk = kms.generate_data_key(KeyId=key_id, KeySpec="AES_256")
    secrets += [dk["Plaintext"], dk["CiphertextBlob"]]
    rnd = kms.generate_random(NumberOfBytes=32)
    secrets.append(rnd["Plaintext"])

    expected = [  # (eventName, errorCode or None, requestID)
        ("CreateKey", None, None),
        ("Encrypt", None, request_id(enc)),
        ("Decrypt", None, request_id(dec)),
        ("GenerateDataKey", None, request_id(dk)),
        ("GenerateRandom", None, request_id(rnd)),
    ]

    e = failing(kms.encrypt, KeyId="alias/audit-missing", Plaintext=p2)
    expected.append(("Encrypt", e.response["Error"]["Code"], request_id(e)))
    assert e.response["Error"]["Code"] == "NotFoundException"

    e = failing(kms.decrypt, CiphertextBlob=b"\x01" + os.urandom(80))
    expected.append(("Decrypt", e.response["Error"]["Code"], request_id(e)))

    kms.disable_key(KeyId=key_id)
    e = failing(kms.encrypt, KeyId=key_id, Plaintext=p3)
    expected.append(("Encrypt", "DisabledException", request_id(e)))
    kms.enable_key(KeyId=key_id)

    # Failed authentication is recorded too, without an identity.
    bad_secret = srv.client(secret_key="wrong-secret-" + uuid.uuid4().hex)
    e = failing(bad_secret.encrypt, KeyId=key_id, Plaintext=p2)
    bad_sig_code = e.response["Error"]["Code"]
    expected.append(("Encrypt", bad_sig_code, request_id(e)))
    unknown = srv.client(access_key="AKIAAUDITUNKNOWN0000")
    e = failing(unknown.decrypt, CiphertextBlob=enc["CiphertextBlob"])
    expected.append(("Decrypt", "UnrecognizedClientException", request_id(e)))

    assert srv.stop() == 0
    audit_dir = srv.data_dir / "audit"
    events = trail_events(audit_dir)
    by_request = {ev.get("requestID"): ev for ev in events}

    for name, code, rid in expected:
        if rid is None:
            assert any(ev["eventName"] == name and "errorCode" not in ev for ev in events), name
            continue
        ev = by_request.get(rid)
        assert ev is not None, f"no audit event for {name} {code} (request {rid})"
        assert ev["eventName"] == name
        assert ev.get("errorCode") == code, ev
        assert ev["eventVersion"] == "1.08" and ev["eventSource"] == "kms.amazonaws.com"
        assert ev["eventType"] == "AwsApiCall" and ev["eventCategory"] == "Management"
        assert ev["sourceIPAddress"] == "127.0.0.1"
        assert "Boto3" in ev["userAgent"] or "botocore" in ev["userAgent"]

    ok_encrypt = by_request[request_id(enc)]
    assert ok_encrypt["userIdentity"]["type"] == "Root"
    assert ok_encrypt["userIdentity"]["accessKeyId"] == srv.aws_vars["AWS_ACCESS_KEY_ID"]
    assert ok_encrypt["requestParameters"]["encryptionContext"] == context
    assert ok_encrypt["resources"] == [{"accountId": key["AWSAccountId"], "type": "AWS::KMS::Key", "ARN": key_arn}]
    assert ok_encrypt["readOnly"] is True
    assert ok_encrypt["recipientAccountId"] == key["AWSAccountId"]
    tls = ok_encrypt["tlsDetails"]
    assert tls["tlsVersion"] == "TLSv1.3" and tls["cipherSuite"].startswith("TLS_AES_"), tls
    assert tls["clientProvidedHostHeader"] == urlparse(srv.aws_vars["AWS_ENDPOINT_URL"]).netloc, tls
    denied = by_request[expected[-1][2]]
    assert denied["userIdentity"] == {"type": "Unknown"}
    assert denied["requestParameters"] is None
    assert bad_sig_code in ("InvalidSignatureException", "IncompleteSignatureException")

    # No secret in any file of the trail directory, in any encoding we could have written it.
    secrets.append(srv.aws_vars["AWS_SECRET_ACCESS_KEY"].encode())
    for f in audit_dir.iterdir():
        data = f.read_bytes()
        for s in secrets:
            for needle in secret_needles(s):
                assert needle not in data, f"secret bytes found in {f.name}"

    ok = verify(srv.data_dir)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.startswith("OK")

    # One changed byte inside the second record: verify fails and names the segment and line.
    seg = sorted(audit_dir.glob("trail-*.jsonl"))[0]
    data = bytearray(seg.read_bytes())
    second = data.index(b"\n") + 1
    pos = data.index(b'"eventName":"', second) + len(b'"eventName":"')
    data[pos] ^= 0x20  # flips the case of the first letter
    seg.write_bytes(bytes(data))
    bad = verify(srv.data_dir)
    assert bad.returncode != 0
    assert seg.name in bad.stderr and "line 2" in bad.stderr, bad.stderr


def test_verify_on_a_running_server_and_strict_once_stopped(make_server):
    """Issue 15 item 4: a live trail verifies (exit 0) up to its last signed digest and names the records after
    it as not signed yet; --strict keeps the stopped-server rule; tampering is caught in both modes."""
    srv = make_server()
    kms = srv.client()
    for _ in range(3):
        kms.generate_random(NumberOfBytes=8)
    live = verify(srv.data_dir)
    assert live.returncode == 0, live.stdout + live.stderr
    assert live.stdout.startswith("OK") and "3 event(s)" in live.stdout, live.stdout
    assert "The trail is open" in live.stdout and "record(s) after it are not signed yet" in live.stdout, live.stdout
    strict = verify(srv.data_dir, "--strict")
    assert strict.returncode == 1 and "truncated tail" in strict.stderr, strict.stdout + strict.stderr

    # A changed byte in the live trail fails the default mode too, naming the place.
    seg = sorted((srv.data_dir / "audit").glob("trail-*.jsonl"))[-1]
    original = seg.read_bytes()
    data = bytearray(original)
    pos = data.index(b'"eventName":"') + len(b'"eventName":"')
    data[pos] ^= 0x20
    seg.write_bytes(bytes(data))
    bad = verify(srv.data_dir)
    assert bad.returncode == 1 and seg.name in bad.stderr and "line 1" in bad.stderr, bad.stdout + bad.stderr
    seg.write_bytes(original)

    assert srv.stop() == 0
    for mode in ([], ["--strict"]):
        ok = verify(srv.data_dir, *mode)
        assert ok.returncode == 0, ok.stdout + ok.stderr
        assert "ends with its shutdown digest" in ok.stdout, ok.stdout
    # A stopped trail whose tail was cut (shutdown digest and the last event removed): both modes refuse it.
    lines = seg.read_bytes().splitlines(keepends=True)
    seg.write_bytes(b"".join(lines[:-2]))
    for mode in ([], ["--strict"]):
        cut = verify(srv.data_dir, *mode)
        assert cut.returncode == 1 and "truncated tail" in cut.stderr, (mode, cut.stdout + cut.stderr)


def test_trail_continues_across_restart(make_server, tmp_path):
    data_dir = tmp_path / "restart-data"
    srv = make_server(data_dir=data_dir)
    srv.client().generate_random(NumberOfBytes=8)
    assert srv.stop() == 0
    srv.start()
    srv.client().generate_random(NumberOfBytes=8)
    assert srv.stop() == 0
    ok = verify(data_dir)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "2 segment(s)" in ok.stdout
    assert sum(1 for ev in trail_events(data_dir / "audit") if ev["eventName"] == "GenerateRandom") == 2


def exported_records(export_dir: Path):
    files = sorted(export_dir.glob("AWSLogs/*/CloudTrail/*/*/*/*/*.json.gz"))
    return files, [r for f in files for r in json.loads(gzip.decompress(f.read_bytes()))["Records"]]


def test_closed_segments_are_exported_in_cloudtrail_layout(make_server, tmp_path):
    export_dir = tmp_path / "export"
    srv = make_server(extra_args=["--audit-segment-max-age-secs", "1", "--audit-export-dir", str(export_dir)])
    kms = srv.client()
    kms.generate_random(NumberOfBytes=8)
    time.sleep(1.2)
    # This call's batch finds the segment older than a second: the writer closes it and the maintenance
    # thread exports it in the background.
    kms.generate_random(NumberOfBytes=8)
    deadline = time.time() + 15
    while not exported_records(export_dir)[0] and time.time() < deadline:
        time.sleep(0.1)
    files, records = exported_records(export_dir)
    assert [r["eventName"] for r in records] == ["GenerateRandom", "GenerateRandom"], files
    account = records[0]["recipientAccountId"]
    rel = files[0].relative_to(export_dir).parts
    assert rel[:4] == ("AWSLogs", account, "CloudTrail", "us-east-1"), rel
    assert rel[7].startswith(f"{account}_CloudTrail_us-east-1_") and rel[7].endswith(".json.gz"), rel
    assert srv.stop() == 0
    ok = verify(srv.data_dir)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "2 segment(s)" in ok.stdout
    # The CLI exports what is left: the stopped trail's last segment (only its shutdown digest: no events).
    out = subprocess.run([str(trent_bin()), "audit", "export", "--data-dir", str(srv.data_dir), "--to", str(export_dir)],
                         capture_output=True, text=True, env=clean_base_env(), timeout=60)
    assert out.returncode == 0, out.stderr
    assert "exported 1 segment(s): 0 event(s)" in out.stdout and "1 segment(s) were exported before" in out.stdout


def test_parameter_store_kms_calls_are_recorded_as_invoked_by_ssm(make_server):
    """Issue 8 item 4: the KMS calls Parameter Store makes for the caller appear in the trail as KMS events of
    the caller's identity, invokedBy ssm.amazonaws.com, with the PARAMETER_ARN context and no secret."""
    srv = make_server()
    ssm, kms = srv.ssm_client(), srv.client()
    secret_std = "std secret " + uuid.uuid4().hex
    secret_adv = "adv secret " + uuid.uuid4().hex
    put_std = ssm.put_parameter(Name="/audit/std", Value=secret_std, Type="SecureString")
    get_std = ssm.get_parameter(Name="/audit/std", WithDecryption=True)
    assert get_std["Parameter"]["Value"] == secret_std
    arn_std = get_std["Parameter"]["ARN"]
    key = kms.create_key(Description="ssm audit")["KeyMetadata"]
    put_adv = ssm.put_parameter(Name="/audit/adv", Value=secret_adv, Type="SecureString", Tier="Advanced",
                                KeyId=key["KeyId"])
    get_adv = ssm.get_parameter(Name="/audit/adv", WithDecryption=True)
    assert get_adv["Parameter"]["Value"] == secret_adv
    no_decrypt = ssm.get_parameter(Name="/audit/std")
    kms.disable_key(KeyId=key["KeyId"])
    denied = failing(ssm.get_parameter, Name="/audit/adv", WithDecryption=True)
    assert srv.stop() == 0

    events = trail_events(srv.data_dir / "audit")

    def kms_events(resp):
        rid = request_id(resp)
        chain = [ev for ev in events if ev.get("requestID") == rid]
        assert chain and chain[-1]["eventSource"] == "ssm.amazonaws.com", chain
        return [ev for ev in chain if ev["eventSource"] == "kms.amazonaws.com"]

    expected = [
        (put_std, "Encrypt", arn_std, None),
        (get_std, "Decrypt", arn_std, None),
        (put_adv, "GenerateDataKey", get_adv["Parameter"]["ARN"], None),
        (get_adv, "Decrypt", get_adv["Parameter"]["ARN"], None),
        (denied, "Decrypt", get_adv["Parameter"]["ARN"], "DisabledException"),
    ]
    for resp, name, param_arn, code in expected:
        found = kms_events(resp)
        assert [ev["eventName"] for ev in found] == [name], found
        ev = found[0]
        assert ev.get("errorCode") == code, ev
        assert ev["userIdentity"]["invokedBy"] == "ssm.amazonaws.com"
        assert ev["userIdentity"]["type"] == "Root"
        assert ev["sourceIPAddress"] == "ssm.amazonaws.com" and ev["userAgent"] == "ssm.amazonaws.com"
        assert ev["requestParameters"]["encryptionContext"] == {"PARAMETER_ARN": param_arn}
        if code is None:
            assert ev["resources"][0]["type"] == "AWS::KMS::Key"
    assert kms_events(no_decrypt) == []  # the ciphertext is returned as stored: no KMS call

    for f in (srv.data_dir / "audit").iterdir():
        data = f.read_bytes()
        for s in (secret_std, secret_adv):
            for needle in secret_needles(s.encode()):
                assert needle not in data, f"secret bytes found in {f.name}"
    ok = verify(srv.data_dir)
    assert ok.returncode == 0, ok.stdout + ok.stderr
