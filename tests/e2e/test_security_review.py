"""End-to-end regression tests for the outside security review (shared/reviews/security.md): each replays a
finding's reproduction through boto3 against a real `trent serve` and shows it refused."""

from __future__ import annotations

import json
import subprocess

import pytest
from botocore.exceptions import ClientError

from conftest import clean_base_env, parse_env_exports, trent_bin, unique


def code(excinfo) -> str:
    return excinfo.value.response["Error"]["Code"]


def policy(*statements) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def new_user(server, prefix, *statements):
    """An IAM user with an inline policy of `statements` (if any); returns (arn, kms client as that user)."""
    iam = server.iam_client()
    name = unique(prefix)
    arn = iam.create_user(UserName=name)["User"]["Arn"]
    if statements:
        iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=policy(*statements))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return arn, server.client(access_key=key["AccessKeyId"], secret_key=key["SecretAccessKey"])


@pytest.fixture(scope="module")
def account(server):
    return server.sts_client().get_caller_identity()["Account"]


def denied(call, **kwargs):
    with pytest.raises(ClientError) as e:
        call(**kwargs)
    assert code(e) == "AccessDeniedException", e.value.response
    return e


def test_finding_1_alias_hijack_is_refused(server, kms, account):
    victim = kms.create_key(Description="payments")["KeyMetadata"]["KeyId"]
    alias = f"alias/{unique('prod-payments')}"
    kms.create_alias(AliasName=alias, TargetKeyId=victim)
    m_arn, mallory = new_user(server, "mallory", {"Effect": "Allow", "Action": "kms:CreateKey", "Resource": "*"})
    own = policy({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "kms:*",
                  "Resource": "*"},
                 {"Effect": "Allow", "Principal": {"AWS": m_arn}, "Action": "kms:*", "Resource": "*"})
    mk = mallory.create_key(Policy=own)["KeyMetadata"]["KeyId"]
    denied(mallory.describe_key, KeyId=alias)
    e = denied(mallory.update_alias, AliasName=alias, TargetKeyId=mk)
    assert f":alias/{alias[len('alias/'):]}" in e.value.response["Error"]["Message"]
    denied(mallory.create_alias, AliasName=f"alias/{unique('future-app')}", TargetKeyId=mk)
    denied(mallory.delete_alias, AliasName=alias)
    ct = kms.encrypt(KeyId=alias, Plaintext=b"card=4111111111111111")
    assert ct["KeyId"].endswith(victim)
    denied(mallory.decrypt, CiphertextBlob=ct["CiphertextBlob"])

    # With rights on every alias but none on the victim key, the current key still refuses the repoint.
    m2_arn, m2 = new_user(server, "mallory2", {
        "Effect": "Allow", "Action": ["kms:UpdateAlias", "kms:CreateAlias"],
        "Resource": f"arn:aws:kms:{server.region}:{account}:alias/*"})
    own2 = own.replace(m_arn, m2_arn)
    mk2 = kms.create_key(Policy=own2)["KeyMetadata"]["KeyId"]
    e = denied(m2.update_alias, AliasName=alias, TargetKeyId=mk2)
    assert victim in e.value.response["Error"]["Message"]
    # The root may still repoint its aliases.
    other = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.update_alias(AliasName=alias, TargetKeyId=other)
    assert kms.describe_key(KeyId=alias)["KeyMetadata"]["KeyId"] == other


def test_finding_2_grant_escalation_is_refused(server, kms):
    kid = kms.create_key()["KeyMetadata"]["KeyId"]
    ct = kms.encrypt(KeyId=kid, Plaintext=b"top secret")["CiphertextBlob"]
    uarn, u = new_user(server, "granteeA")
    kms.create_grant(KeyId=kid, GranteePrincipal=uarn, Operations=["CreateGrant", "Encrypt"])
    denied(u.decrypt, CiphertextBlob=ct)
    karn = kms.describe_key(KeyId=kid)["KeyMetadata"]["Arn"]
    denied(u.create_grant, KeyId=karn, GranteePrincipal=uarn, Operations=["Decrypt", "ReEncryptFrom", "CreateGrant"])
    denied(u.decrypt, CiphertextBlob=ct, KeyId=karn)
    # Within its own grant the grantee may still pass on what it holds.
    u.create_grant(KeyId=karn, GranteePrincipal=uarn, Operations=["Encrypt"])


def test_finding_4_unapproved_context_key_guard(server, kms):
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    _, u = new_user(server, "ctxguard", {"Effect": "Allow", "Action": "kms:*", "Resource": "*"}, {
        "Effect": "Deny", "Action": ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey"], "Resource": "*",
        "Condition": {"ForAnyValue:StringNotEquals": {"kms:EncryptionContextKeys": ["Department", "Project"]}}})
    denied(u.encrypt, KeyId=key, Plaintext=b"x", EncryptionContext={"Evil": "1"})
    denied(u.encrypt, KeyId=key, Plaintext=b"x", EncryptionContext={"Department": "IT", "Evil": "1"})
    u.encrypt(KeyId=key, Plaintext=b"x", EncryptionContext={"Department": "IT"})

    _, v = new_user(server, "notlike", {"Effect": "Allow", "Action": "kms:*", "Resource": "*"}, {
        "Effect": "Deny", "Action": "kms:Encrypt", "Resource": "*",
        "Condition": {"ForAllValues:StringNotLike": {"kms:EncryptionContextKeys": "tenant*"}}})
    v.encrypt(KeyId=key, Plaintext=b"x", EncryptionContext={"tenantA": "1", "other": "2"})
    denied(v.encrypt, KeyId=key, Plaintext=b"x", EncryptionContext={"other": "2"})


def test_finding_5_case_variant_context_key_cannot_bypass_a_deny(server, kms):
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    _, u = new_user(server, "casevariant", {"Effect": "Allow", "Action": "kms:*", "Resource": "*"}, {
        "Effect": "Deny", "Action": ["kms:Encrypt", "kms:Decrypt"], "Resource": "*",
        "Condition": {"StringEquals": {"kms:EncryptionContext:Classification": "TopSecret"}}})
    denied(u.encrypt, KeyId=key, Plaintext=b"x", EncryptionContext={"Classification": "TopSecret"})
    both = {"Classification": "TopSecret", "classification": "x"}
    denied(u.encrypt, KeyId=key, Plaintext=b"x", EncryptionContext=both)
    blob = kms.encrypt(KeyId=key, Plaintext=b"x", EncryptionContext=both)["CiphertextBlob"]
    denied(u.decrypt, CiphertextBlob=blob, EncryptionContext=both)


def test_finding_9_list_retirable_grants_is_limited_to_the_callers_account(server, kms, account):
    out = subprocess.run([str(trent_bin()), "admin", "create-account", "--data-dir", str(server.data_dir),
                          "--account-id", "121212121212"], capture_output=True, text=True, env=clean_base_env(),
                         timeout=30)
    assert out.returncode == 0, out.stderr
    e = parse_env_exports(out.stdout)
    other = server.client(access_key=e["AWS_ACCESS_KEY_ID"], secret_key=e["AWS_SECRET_ACCESS_KEY"])
    uarn, _ = new_user(server, "retirer")
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.create_grant(KeyId=key, GranteePrincipal=uarn, RetiringPrincipal=uarn, Operations=["Decrypt"],
                     Name="secret-grant-name", Constraints={"EncryptionContextSubset": {"tenant": "acme"}})
    assert len(kms.list_retirable_grants(RetiringPrincipal=uarn)["Grants"]) == 1
    denied(other.list_retirable_grants, RetiringPrincipal=uarn)


def test_dry_run_changes_nothing(server, kms):
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    grantee = server.sts_client().get_caller_identity()["Arn"]

    def dry(call, **kwargs):
        with pytest.raises(ClientError) as e:
            call(DryRun=True, **kwargs)
        assert code(e) == "DryRunOperationException", e.value.response
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412

    dry(kms.create_grant, KeyId=key, GranteePrincipal=grantee, Operations=["Decrypt"])
    assert kms.list_grants(KeyId=key)["Grants"] == []
    grant_id = kms.create_grant(KeyId=key, GranteePrincipal=grantee, Operations=["Decrypt"])["GrantId"]
    dry(kms.revoke_grant, KeyId=key, GrantId=grant_id)
    dry(kms.retire_grant, KeyId=key, GrantId=grant_id)
    assert [g["GrantId"] for g in kms.list_grants(KeyId=key)["Grants"]] == [grant_id]
    dry(kms.generate_data_key, KeyId=key, KeySpec="AES_256")
    dry(kms.encrypt, KeyId=key, Plaintext=b"x")


def signed_post(server, service: str, headers: dict, body: bytes):
    """A request signed by botocore's own SigV4 signer with the root credentials, sent as is: for bodies no SDK
    would send. Returns (status, body)."""
    import ssl
    import urllib.error
    import urllib.request

    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    url = server.aws_vars["AWS_ENDPOINT_URL"].rstrip("/") + "/"
    creds = Credentials(server.aws_vars["AWS_ACCESS_KEY_ID"], server.aws_vars["AWS_SECRET_ACCESS_KEY"])
    req = AWSRequest(method="POST", url=url, data=body, headers=headers)
    SigV4Auth(creds, service, server.region).add_auth(req)
    raw = urllib.request.Request(url, data=body, headers=dict(req.headers.items()), method="POST")
    try:
        with urllib.request.urlopen(raw, context=ssl.create_default_context(cafile=server.ca_bundle)) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def events(server, **attribute):
    trail = server._aws_client("cloudtrail")
    (key, value), = attribute.items()
    return trail.lookup_events(LookupAttributes=[{"AttributeKey": key, "AttributeValue": value}],
                               MaxResults=50)["Events"]


def test_finding_7_a_query_request_is_recorded_under_the_operation_that_ran(server):
    name = unique("nobody")
    server.iam_client().create_user(UserName=name)
    body = f"Act%69on=CreateAccessKey&Action=ListUsers&Version=2010-05-08&UserName={name}".encode()
    status, reply = signed_post(server, "iam", {"Content-Type": "application/x-www-form-urlencoded"}, body)
    # The first decoded Action ran (as before); the trail must now say so.
    assert status == 200 and b"<CreateAccessKeyResponse" in reply, reply
    recorded = [json.loads(e["CloudTrailEvent"]) for e in events(server, Username="root")]
    mine = [e for e in recorded if (e.get("requestParameters") or {}).get("userName") == name
            and e["eventName"] != "CreateUser"]
    assert [(e["eventName"], e["readOnly"]) for e in mine] == [("CreateAccessKey", False)], mine


def test_finding_8_a_wrong_typed_member_does_not_erase_the_record(server, kms):
    key = kms.create_key()["KeyMetadata"]
    headers = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "TrentService.DisableKey"}
    body = json.dumps({"KeyId": key["KeyId"], "Limit": "not-a-number"}).encode()
    status, reply = signed_post(server, "kms", headers, body)
    assert status == 200, reply
    recorded = [json.loads(e["CloudTrailEvent"]) for e in events(server, ResourceName=key["Arn"])]
    disable = [e for e in recorded if e["eventName"] == "DisableKey"]
    assert len(disable) == 1, [e["eventName"] for e in recorded]
    assert disable[0]["requestParameters"]["keyId"] == key["KeyId"]
    assert disable[0]["resources"][0]["ARN"] == key["Arn"]
