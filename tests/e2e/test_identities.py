"""IAM unique ids, STS sessions bound to their role's id, and the identities CloudTrail records: each identity
type's userIdentity as LookupEvents returns it, cross-account KMS calls in both accounts, alias and AssumeRole
events (security review findings 10 and 12, issue 15 items 2 and 3)."""

from __future__ import annotations

import json
import re
import subprocess

import pytest
from botocore.exceptions import ClientError

from conftest import clean_base_env, parse_env_exports, trent_bin, unique

ROOT_TRUST_STMT = {"Effect": "Allow", "Action": "sts:AssumeRole"}
UNIQUE_ID = re.compile(r"^(AIDA|AROA)[A-Z2-7]{17}$")


def policy(*statements) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def trust(principal: str) -> str:
    return policy({**ROOT_TRUST_STMT, "Principal": {"AWS": principal}})


def code(excinfo) -> str:
    return excinfo.value.response["Error"]["Code"]


@pytest.fixture(scope="module")
def account(server):
    return server.sts_client().get_caller_identity()["Account"]


def lookup(trail, key: str, value: str) -> list:
    events = trail.lookup_events(LookupAttributes=[{"AttributeKey": key, "AttributeValue": value}],
                                 MaxResults=50)["Events"]
    return [{**e, "CloudTrailEvent": json.loads(e["CloudTrailEvent"])} for e in events]


def new_user_with_key(server, name: str, *statements):
    iam = server.iam_client()
    user = iam.create_user(UserName=name)["User"]
    if statements:
        iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=policy(*statements))
    return user, iam.create_access_key(UserName=name)["AccessKey"]


def test_users_and_roles_have_iam_unique_ids(server, account):
    iam = server.iam_client()
    name, role_name = unique("ids-user"), unique("ids-role")
    user = iam.create_user(UserName=name)["User"]
    assert UNIQUE_ID.match(user["UserId"]) and user["UserId"].startswith("AIDA"), user
    assert iam.get_user(UserName=name)["User"]["UserId"] == user["UserId"]
    assert [u["UserId"] for u in iam.list_users()["Users"] if u["UserName"] == name] == [user["UserId"]]
    role = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=trust(f"arn:aws:iam::{account}:root"))["Role"]
    assert UNIQUE_ID.match(role["RoleId"]) and role["RoleId"].startswith("AROA"), role
    assert iam.get_role(RoleName=role_name)["Role"]["RoleId"] == role["RoleId"]
    assert [r["RoleId"] for r in iam.list_roles()["Roles"] if r["RoleName"] == role_name] == [role["RoleId"]]

    key = iam.create_access_key(UserName=name)["AccessKey"]
    who = server.sts_client(key["AccessKeyId"], key["SecretAccessKey"]).get_caller_identity()
    assert (who["UserId"], who["Arn"]) == (user["UserId"], user["Arn"])
    c = server.sts_client().assume_role(RoleArn=role["Arn"], RoleSessionName="ids-s1")["Credentials"]
    who = server.sts_client(c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"]).get_caller_identity()
    assert who["UserId"] == f"{role['RoleId']}:ids-s1"
    assert server.sts_client().get_caller_identity()["UserId"] == account


def test_session_does_not_survive_or_inherit_a_recreated_role(server, account):
    """Security review finding 12, replayed: assume `app` (ListKeys only) as s1, delete it, recreate it with
    `*:*` and a trust policy naming someone else. s1 must get nothing, for the rest of its lifetime."""
    iam = server.iam_client()
    role_name = unique("app")
    role = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=trust(f"arn:aws:iam::{account}:root"))["Role"]
    iam.put_role_policy(RoleName=role_name, PolicyName="list", PolicyDocument=policy(
        {"Effect": "Allow", "Action": "kms:ListKeys", "Resource": "*"}))
    c = server.sts_client().assume_role(RoleArn=role["Arn"], RoleSessionName="s1")["Credentials"]
    kms = server._aws_client("kms", c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])
    s1_iam = server.iam_client(c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])
    assert "Keys" in kms.list_keys()

    iam.delete_role_policy(RoleName=role_name, PolicyName="list")
    iam.delete_role(RoleName=role_name)
    with pytest.raises(ClientError) as e:
        kms.list_keys()
    assert code(e) == "UnrecognizedClientException"

    again = iam.create_role(RoleName=role_name,
                            AssumeRolePolicyDocument=trust(f"arn:aws:iam::{account}:user/nobody"))["Role"]
    assert again["RoleId"] != role["RoleId"]
    iam.put_role_policy(RoleName=role_name, PolicyName="all", PolicyDocument=policy(
        {"Effect": "Allow", "Action": "*", "Resource": "*"}))
    with pytest.raises(ClientError) as e:
        kms.create_key()
    assert code(e) == "UnrecognizedClientException"
    with pytest.raises(ClientError) as e:
        s1_iam.list_users()
    assert code(e) == "InvalidClientTokenId"
    iam.delete_role_policy(RoleName=role_name, PolicyName="all")
    iam.delete_role(RoleName=role_name)


def test_cloudtrail_user_identity_per_type_and_lookup_by_username(server, account):
    """Issue 15 item 2: Root, IAMUser and AssumedRole as CloudTrail records them; LookupEvents by Username finds
    each (`root`, the user's name, the role session's name). AssumeRole's responseElements (item 3)."""
    iam = server.iam_client()
    name, role_name, session = unique("ct-user"), unique("ct-role"), unique("ct-sess")
    user, key = new_user_with_key(server, name, {"Effect": "Allow", "Action": ["kms:ListKeys", "sts:AssumeRole"],
                                                 "Resource": "*"})
    role = iam.create_role(RoleName=role_name, Path="/ct/", AssumeRolePolicyDocument=trust(user["Arn"]))["Role"]
    iam.put_role_policy(RoleName=role_name, PolicyName="list", PolicyDocument=policy(
        {"Effect": "Allow", "Action": "kms:ListAliases", "Resource": "*"}))
    server._aws_client("kms", key["AccessKeyId"], key["SecretAccessKey"]).list_keys()
    out = server.sts_client(key["AccessKeyId"], key["SecretAccessKey"]).assume_role(
        RoleArn=role["Arn"], RoleSessionName=session)
    c = out["Credentials"]
    server._aws_client("kms", c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"]).list_aliases()
    server.client().list_keys()
    trail = server._aws_client("cloudtrail")

    by_user = lookup(trail, "Username", name)
    mine = [e for e in by_user if e["EventName"] == "ListKeys"]
    assert mine and mine[0]["Username"] == name
    assert mine[0]["CloudTrailEvent"]["userIdentity"] == {
        "type": "IAMUser", "principalId": user["UserId"], "arn": user["Arn"], "accountId": account,
        "accessKeyId": key["AccessKeyId"], "userName": name}

    assume = [e for e in by_user if e["EventName"] == "AssumeRole"]
    assert assume, by_user
    rsp = assume[0]["CloudTrailEvent"]["responseElements"]
    assert rsp["credentials"]["accessKeyId"] == c["AccessKeyId"]
    assert re.match(r"^[A-Z][a-z]{2} \d{1,2}, \d{4}, \d{1,2}:\d{2}:\d{2} [AP]M$", rsp["credentials"]["expiration"])
    assert rsp["assumedRoleUser"] == {
        "assumedRoleId": out["AssumedRoleUser"]["AssumedRoleId"], "arn": out["AssumedRoleUser"]["Arn"]}
    text = json.dumps(assume[0]["CloudTrailEvent"])
    assert c["SecretAccessKey"] not in text and c["SessionToken"] not in text

    by_session = [e for e in lookup(trail, "Username", session) if e["EventName"] == "ListAliases"]
    assert by_session, "LookupEvents by the role session name"
    ident = by_session[0]["CloudTrailEvent"]["userIdentity"]
    creation = ident["sessionContext"]["attributes"].pop("creationDate")
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", creation)
    assert ident == {
        "type": "AssumedRole", "principalId": f"{role['RoleId']}:{session}",
        "arn": f"arn:aws:sts::{account}:assumed-role/{role_name}/{session}", "accountId": account,
        "accessKeyId": c["AccessKeyId"],
        "sessionContext": {
            "sessionIssuer": {"type": "Role", "principalId": role["RoleId"], "arn": role["Arn"],
                              "accountId": account, "userName": role_name},
            "attributes": {"mfaAuthenticated": "false"}}}

    by_root = [e for e in lookup(trail, "Username", "root") if e["EventName"] == "ListKeys"]
    assert by_root
    ident = by_root[0]["CloudTrailEvent"]["userIdentity"]
    assert {k: ident[k] for k in ("type", "principalId", "arn", "accountId")} == {
        "type": "Root", "principalId": account, "arn": f"arn:aws:iam::{account}:root", "accountId": account}


def test_alias_events_name_alias_and_key(server, kms, account):
    """Issue 15 item 3: the key ARN and the alias ARN in resources, keyId in responseElements."""
    key = kms.create_key()["KeyMetadata"]
    other = kms.create_key()["KeyMetadata"]
    alias = f"alias/{unique('ct-alias')}"
    kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
    kms.update_alias(AliasName=alias, TargetKeyId=other["KeyId"])
    alias_arn = f"arn:aws:kms:{server.region}:{account}:{alias}"
    trail = server._aws_client("cloudtrail")
    events = {e["EventName"]: e for e in lookup(trail, "ResourceName", alias_arn)}
    create, update = events["CreateAlias"], events["UpdateAlias"]
    assert [r["ResourceName"] for r in create["Resources"]] == [key["Arn"], alias_arn]
    assert create["CloudTrailEvent"]["responseElements"] == {"keyId": key["Arn"]}
    assert [r["ResourceName"] for r in update["Resources"]] == [alias_arn, other["Arn"]]
    assert update["CloudTrailEvent"]["responseElements"] == {"keyId": other["Arn"]}
    kms.delete_alias(AliasName=alias)
    deleted = [e for e in lookup(trail, "ResourceName", alias_arn) if e["EventName"] == "DeleteAlias"]
    assert deleted and [r["ResourceName"] for r in deleted[0]["Resources"]] == [alias_arn, other["Arn"]]
    # The key the alias pointed to is searchable too.
    assert any(e["EventName"] == "DeleteAlias" for e in lookup(trail, "ResourceName", other["Arn"]))


def test_cross_account_calls_appear_in_the_key_owners_trail(server, kms, account):
    """Security review finding 10, replayed: account B probes A's key (refused), then uses it once shared. A's
    LookupEvents shows both, as AWSAccount callers, and B's own trail still has its events."""
    other_id = "444455556666"
    out = subprocess.run([str(trent_bin()), "admin", "create-account", "--data-dir", str(server.data_dir),
                          "--account-id", other_id], capture_output=True, text=True, env=clean_base_env(), timeout=30)
    assert out.returncode == 0, out.stderr  # prints the account's existing root key if it already exists
    env = parse_env_exports(out.stdout)
    creds = (env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"])
    b_kms = server.client(access_key=creds[0], secret_key=creds[1])
    key = kms.create_key()["KeyMetadata"]
    with pytest.raises(ClientError) as e:
        b_kms.describe_key(KeyId=key["Arn"])
    assert code(e) == "AccessDeniedException"
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"shared")["CiphertextBlob"]
    kms.put_key_policy(KeyId=key["KeyId"], PolicyName="default", Policy=policy(
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "kms:*", "Resource": "*"},
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{other_id}:root"}, "Action": "kms:Decrypt",
         "Resource": "*"}))
    assert b_kms.decrypt(CiphertextBlob=blob, KeyId=key["Arn"])["Plaintext"] == b"shared"

    a_events = lookup(server._aws_client("cloudtrail"), "ResourceName", key["KeyId"])
    theirs = {e["EventName"]: e["CloudTrailEvent"] for e in a_events
              if e["CloudTrailEvent"]["userIdentity"].get("accountId") == other_id}
    assert set(theirs) >= {"DescribeKey", "Decrypt"}, [e["EventName"] for e in a_events]
    assert theirs["DescribeKey"]["errorCode"] == "AccessDeniedException"
    for ev in theirs.values():
        assert ev["recipientAccountId"] == account
        assert ev["userIdentity"] == {"type": "AWSAccount", "principalId": other_id, "accountId": other_id}
        assert ev.get("sharedEventID")

    b_trail = server._aws_client("cloudtrail", creds[0], creds[1])
    b_events = {e["EventName"]: e["CloudTrailEvent"] for e in lookup(b_trail, "ResourceName", key["Arn"])}
    assert set(b_events) >= {"DescribeKey", "Decrypt"}
    assert b_events["Decrypt"]["recipientAccountId"] == other_id
    assert b_events["Decrypt"]["userIdentity"]["type"] == "Root"
    assert b_events["Decrypt"]["sharedEventID"] == theirs["Decrypt"]["sharedEventID"]
