"""End-to-end: KMS authorization as AWS documents it, through boto3 with IAM users, roles, grants and a second
account. The admin credentials of `trent env` (the account root) keep doing everything."""

from __future__ import annotations

import json
import subprocess

import pytest
from botocore.exceptions import ClientError

from conftest import clean_base_env, parse_env_exports, trent_bin, unique


def code(excinfo) -> str:
    return excinfo.value.response["Error"]["Code"]


def message(excinfo) -> str:
    return excinfo.value.response["Error"]["Message"]


def policy(*statements) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


@pytest.fixture(scope="module")
def account(server):
    return server.sts_client().get_caller_identity()["Account"]


def new_user(server, prefix="user"):
    """An IAM user with an access key; returns (name, arn, kms client as that user)."""
    iam = server.iam_client()
    name = unique(prefix)
    arn = iam.create_user(UserName=name)["User"]["Arn"]
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return name, arn, server.client(access_key=key["AccessKeyId"], secret_key=key["SecretAccessKey"])


def root_policy(account, *extra) -> str:
    return policy({"Sid": "Enable IAM User Permissions", "Effect": "Allow",
                   "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "kms:*", "Resource": "*"}, *extra)


def test_iam_policy_decides_under_the_default_key_policy(server, kms, account):
    key = kms.create_key()["KeyMetadata"]
    name, arn, alice = new_user(server, "alice")
    with pytest.raises(ClientError) as e:
        alice.encrypt(KeyId=key["KeyId"], Plaintext=b"x")
    assert code(e) == "AccessDeniedException"
    assert message(e) == (f"User: {arn} is not authorized to perform: kms:Encrypt on resource: {key['Arn']} "
                          f"because no identity-based policy allows the kms:Encrypt action")
    server.iam_client().put_user_policy(UserName=name, PolicyName="use-keys", PolicyDocument=policy(
        {"Effect": "Allow", "Action": ["kms:Encrypt", "kms:Decrypt"], "Resource": "*"}))
    blob = alice.encrypt(KeyId=key["KeyId"], Plaintext=b"allowed")["CiphertextBlob"]
    assert alice.decrypt(CiphertextBlob=blob)["Plaintext"] == b"allowed"
    with pytest.raises(ClientError) as e:  # not in her policy
        alice.schedule_key_deletion(KeyId=key["KeyId"])
    assert code(e) == "AccessDeniedException"

    # A key policy without the root statement no longer delegates to IAM: Alice is denied again.
    admin_only = policy({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                         "Action": "kms:*", "Resource": "*", "Condition": {"StringEquals": {
                             "aws:PrincipalArn": f"arn:aws:iam::{account}:root"}}})
    kms.put_key_policy(KeyId=key["KeyId"], PolicyName="default", Policy=admin_only)
    with pytest.raises(ClientError) as e:
        alice.encrypt(KeyId=key["KeyId"], Plaintext=b"x")
    assert code(e) == "AccessDeniedException"
    # The root statement back, plus an explicit deny for Alice in the key policy: deny wins.
    kms.put_key_policy(KeyId=key["KeyId"], PolicyName="default", Policy=root_policy(account, {
        "Effect": "Deny", "Principal": {"AWS": arn}, "Action": "kms:Decrypt", "Resource": "*"}))
    alice.encrypt(KeyId=key["KeyId"], Plaintext=b"x")
    with pytest.raises(ClientError) as e:
        alice.decrypt(CiphertextBlob=blob)
    assert code(e) == "AccessDeniedException"
    # The admin (root) is never locked out of its default-policy keys.
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"allowed"


def test_encryption_context_condition(server, kms):
    key = kms.create_key()["KeyMetadata"]
    name, _, bob = new_user(server, "bob")
    server.iam_client().put_user_policy(UserName=name, PolicyName="ctx", PolicyDocument=policy(
        {"Effect": "Allow", "Action": ["kms:Encrypt", "kms:Decrypt"], "Resource": key["Arn"],
         "Condition": {"StringEquals": {"kms:EncryptionContext:department": "finance"}}}))
    blob = bob.encrypt(KeyId=key["KeyId"], Plaintext=b"ledger",
                       EncryptionContext={"department": "finance"})["CiphertextBlob"]
    assert bob.decrypt(CiphertextBlob=blob, EncryptionContext={"department": "finance"})["Plaintext"] == b"ledger"
    for ctx in [{"department": "sales"}, {}]:
        with pytest.raises(ClientError) as e:
            bob.encrypt(KeyId=key["KeyId"], Plaintext=b"x", EncryptionContext=ctx)
        assert code(e) == "AccessDeniedException"
    other = kms.create_key()["KeyMetadata"]
    with pytest.raises(ClientError) as e:  # the policy names one key
        bob.encrypt(KeyId=other["KeyId"], Plaintext=b"x", EncryptionContext={"department": "finance"})
    assert code(e) == "AccessDeniedException"


def test_grant_allows_until_retired(server, kms, account):
    key = kms.create_key()["KeyMetadata"]
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"granted", EncryptionContext={"app": "a"})["CiphertextBlob"]
    _, arn, carol = new_user(server, "carol")
    with pytest.raises(ClientError) as e:
        carol.decrypt(CiphertextBlob=blob, EncryptionContext={"app": "a"})
    assert code(e) == "AccessDeniedException"
    grant = kms.create_grant(KeyId=key["KeyId"], GranteePrincipal=arn, Operations=["Decrypt"],
                             RetiringPrincipal=f"arn:aws:iam::{account}:root",
                             Constraints={"EncryptionContextSubset": {"app": "a"}}, Name="carol-decrypt")
    assert carol.decrypt(CiphertextBlob=blob, EncryptionContext={"app": "a"})["Plaintext"] == b"granted"
    with pytest.raises(ClientError) as e:  # Encrypt is not in the grant
        carol.encrypt(KeyId=key["KeyId"], Plaintext=b"x", EncryptionContext={"app": "a"})
    assert code(e) == "AccessDeniedException"
    other_blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x", EncryptionContext={"app": "b"})["CiphertextBlob"]
    with pytest.raises(ClientError) as e:  # outside the grant's constraint
        carol.decrypt(CiphertextBlob=other_blob, EncryptionContext={"app": "b"})
    assert code(e) == "AccessDeniedException"
    listed = kms.list_grants(KeyId=key["KeyId"])["Grants"]
    assert [(g["GrantId"], g["GranteePrincipal"], g["Operations"]) for g in listed] == [
        (grant["GrantId"], arn, ["Decrypt"])]
    assert listed[0]["Constraints"] == {"EncryptionContextSubset": {"app": "a"}}
    # Same name, same parameters: the same grant with a new token.
    again = kms.create_grant(KeyId=key["KeyId"], GranteePrincipal=arn, Operations=["Decrypt"],
                             RetiringPrincipal=f"arn:aws:iam::{account}:root",
                             Constraints={"EncryptionContextSubset": {"app": "a"}}, Name="carol-decrypt")
    assert again["GrantId"] == grant["GrantId"] and again["GrantToken"] != grant["GrantToken"]
    retirable = kms.list_retirable_grants(RetiringPrincipal=f"arn:aws:iam::{account}:root")["Grants"]
    assert grant["GrantId"] in [g["GrantId"] for g in retirable]
    kms.retire_grant(GrantToken=grant["GrantToken"])
    with pytest.raises(ClientError) as e:
        carol.decrypt(CiphertextBlob=blob, EncryptionContext={"app": "a"})
    assert code(e) == "AccessDeniedException"
    assert kms.list_grants(KeyId=key["KeyId"])["Grants"] == []
    # RevokeGrant by key and id.
    g2 = kms.create_grant(KeyId=key["KeyId"], GranteePrincipal=arn, Operations=["Decrypt"])
    carol.decrypt(CiphertextBlob=blob, EncryptionContext={"app": "a"})
    kms.revoke_grant(KeyId=key["KeyId"], GrantId=g2["GrantId"])
    with pytest.raises(ClientError) as e:
        kms.revoke_grant(KeyId=key["KeyId"], GrantId=g2["GrantId"])
    assert code(e) == "InvalidGrantIdException"


def test_assumed_role_credentials(server, kms, account):
    iam, sts = server.iam_client(), server.sts_client()
    name, arn, _ = new_user(server, "dave")
    key = iam.create_access_key(UserName=name)["AccessKey"]
    iam.put_user_policy(UserName=name, PolicyName="assume", PolicyDocument=policy(
        {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}))
    role = unique("app")
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=policy(
        {"Effect": "Allow", "Principal": {"AWS": arn}, "Action": "sts:AssumeRole"}))
    iam.put_role_policy(RoleName=role, PolicyName="kms", PolicyDocument=policy(
        {"Effect": "Allow", "Action": ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey"], "Resource": "*"}))
    creds = server.sts_client(key["AccessKeyId"], key["SecretAccessKey"]).assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/{role}", RoleSessionName="s1")["Credentials"]
    session = server._aws_client("kms", creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    kms_key = kms.create_key()["KeyMetadata"]["KeyId"]
    blob = session.encrypt(KeyId=kms_key, Plaintext=b"as a role")["CiphertextBlob"]
    assert session.decrypt(CiphertextBlob=blob)["Plaintext"] == b"as a role"
    with pytest.raises(ClientError) as e:
        session.disable_key(KeyId=kms_key)
    assert code(e) == "AccessDeniedException"
    assert f"assumed-role/{role}/s1" in message(e)


def test_cross_account_key_sharing(server, kms, account):
    def account_creds(account_id):
        out = subprocess.run([str(trent_bin()), "admin", "create-account", "--data-dir", str(server.data_dir),
                              "--account-id", account_id], capture_output=True, text=True, env=clean_base_env(),
                             timeout=30)
        assert out.returncode == 0, out.stderr
        e = parse_env_exports(out.stdout)
        return server.client(access_key=e["AWS_ACCESS_KEY_ID"], secret_key=e["AWS_SECRET_ACCESS_KEY"])

    partner, stranger = account_creds("555566667777"), account_creds("888899990000")
    key = kms.create_key()["KeyMetadata"]
    with pytest.raises(ClientError) as e:  # not shared yet
        partner.encrypt(KeyId=key["Arn"], Plaintext=b"x")
    assert code(e) == "AccessDeniedException"
    kms.put_key_policy(KeyId=key["KeyId"], PolicyName="default", Policy=root_policy(account, {
        "Sid": "Share with the partner account", "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::555566667777:root"},
        "Action": ["kms:Encrypt", "kms:Decrypt", "kms:DescribeKey"], "Resource": "*"}))
    blob = partner.encrypt(KeyId=key["Arn"], Plaintext=b"shared")["CiphertextBlob"]
    assert partner.decrypt(CiphertextBlob=blob)["Plaintext"] == b"shared"
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"shared"
    with pytest.raises(ClientError) as e:  # a key id alone names a key in the caller's own account
        partner.encrypt(KeyId=key["KeyId"], Plaintext=b"x")
    assert code(e) == "NotFoundException"
    for denied in [lambda: stranger.encrypt(KeyId=key["Arn"], Plaintext=b"x"),
                   lambda: stranger.decrypt(CiphertextBlob=blob),
                   lambda: partner.disable_key(KeyId=key["Arn"])]:
        with pytest.raises(ClientError) as e:
            denied()
        assert code(e) == "AccessDeniedException"


def test_request_condition_keys(server, kms):
    """aws:SecureTransport, aws:SourceIp and kms:RequestAlias come from the request itself."""
    key = kms.create_key()["KeyMetadata"]
    alias = f"alias/{unique('app')}"
    kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
    name, _, erin = new_user(server, "erin")
    iam = server.iam_client()
    iam.put_user_policy(UserName=name, PolicyName="transport", PolicyDocument=policy(
        {"Effect": "Allow", "Action": "kms:Encrypt", "Resource": "*",
         "Condition": {"Bool": {"aws:SecureTransport": "true"}, "IpAddress": {"aws:SourceIp": "127.0.0.0/8"},
                       "StringLike": {"kms:RequestAlias": "alias/app-*"}}}))
    erin.encrypt(KeyId=alias, Plaintext=b"x")
    with pytest.raises(ClientError) as e:  # by key id: no RequestAlias in the request
        erin.encrypt(KeyId=key["KeyId"], Plaintext=b"x")
    assert code(e) == "AccessDeniedException"
    iam.put_user_policy(UserName=name, PolicyName="transport", PolicyDocument=policy(
        {"Effect": "Allow", "Action": "kms:Encrypt", "Resource": "*",
         "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}))
    with pytest.raises(ClientError) as e:
        erin.encrypt(KeyId=alias, Plaintext=b"x")
    assert code(e) == "AccessDeniedException"


def test_tag_conditions_on_tag_resource(server, kms):
    key = kms.create_key()["KeyMetadata"]
    name, _, frank = new_user(server, "frank")
    server.iam_client().put_user_policy(UserName=name, PolicyName="tags", PolicyDocument=policy(
        {"Effect": "Allow", "Action": "kms:TagResource", "Resource": "*",
         "Condition": {"ForAllValues:StringEquals": {"aws:TagKeys": ["team", "env"]}}}))
    frank.tag_resource(KeyId=key["KeyId"], Tags=[{"TagKey": "team", "TagValue": "blue"}])
    with pytest.raises(ClientError) as e:
        frank.tag_resource(KeyId=key["KeyId"], Tags=[{"TagKey": "owner", "TagValue": "frank"}])
    assert code(e) == "AccessDeniedException"


def test_parameter_store_uses_the_same_authorization(server, account):
    """ssm: actions on parameter ARNs by IAM policy; SecureString under alias/aws/ssm needs no KMS permission
    (the managed key's policy allows account principals through Parameter Store), a customer key does."""
    admin = server.ssm_client()
    base = f"/{unique('authz')}"
    admin.put_parameter(Name=f"{base}/open/db", Value="s3cret", Type="SecureString")
    admin.put_parameter(Name=f"{base}/closed/db", Value="x", Type="String")
    iam = server.iam_client()
    name = unique("gina")
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    gina = server._aws_client("ssm", key["AccessKeyId"], key["SecretAccessKey"])
    with pytest.raises(ClientError) as e:
        gina.get_parameter(Name=f"{base}/open/db", WithDecryption=True)
    assert code(e) == "AccessDeniedException"
    iam.put_user_policy(UserName=name, PolicyName="ssm", PolicyDocument=policy(
        {"Effect": "Allow", "Action": "ssm:GetParameter",
         "Resource": f"arn:aws:ssm:us-east-1:{account}:parameter{base}/open/*"}))
    assert gina.get_parameter(Name=f"{base}/open/db", WithDecryption=True)["Parameter"]["Value"] == "s3cret"
    with pytest.raises(ClientError) as e:
        gina.get_parameter(Name=f"{base}/closed/db")
    assert code(e) == "AccessDeniedException"
    with pytest.raises(ClientError) as e:
        gina.put_parameter(Name=f"{base}/open/new", Value="v", Type="String")
    assert code(e) == "AccessDeniedException"


def test_dry_run_answers_with_the_authorization_outcome(server, kms):
    key = kms.create_key()["KeyMetadata"]
    name, _, hank = new_user(server, "hank")
    with pytest.raises(ClientError) as e:
        hank.encrypt(KeyId=key["KeyId"], Plaintext=b"x", DryRun=True)
    assert code(e) == "AccessDeniedException"
    server.iam_client().put_user_policy(UserName=name, PolicyName="enc", PolicyDocument=policy(
        {"Effect": "Allow", "Action": "kms:Encrypt", "Resource": "*"}))
    with pytest.raises(ClientError) as e:
        hank.encrypt(KeyId=key["KeyId"], Plaintext=b"x", DryRun=True)
    assert code(e) == "DryRunOperationException"
