"""IAM users, roles and policies, and STS sessions, through the stock AWS CLI and boto3 (Query protocol, XML)."""

from __future__ import annotations

import json
import subprocess
import time
from typing import Dict

import pytest
from botocore.exceptions import ClientError

from conftest import aws_cli, clean_base_env, parse_env_exports, trail_records, trent_bin, unique

ASSUME_ANY = {"Version": "2012-10-17",
              "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]}
KMS_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]}


def trust(principal: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "sts:AssumeRole"}]})


def error_of(excinfo) -> tuple:
    r = excinfo.value.response
    return r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"]


def aws_as(server, creds: Dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """The AWS CLI with other credentials than the admin's (AWS_SESSION_TOKEN set for temporary ones)."""
    env = dict(server.env)
    env["AWS_ACCESS_KEY_ID"] = creds["AccessKeyId"]
    env["AWS_SECRET_ACCESS_KEY"] = creds["SecretAccessKey"]
    env.pop("AWS_SESSION_TOKEN", None)
    if creds.get("SessionToken"):
        env["AWS_SESSION_TOKEN"] = creds["SessionToken"]
    proc = subprocess.run([aws_cli(), *args, "--output", "json"], capture_output=True, env=env, timeout=60)
    if check and proc.returncode != 0:
        raise AssertionError(f"aws {' '.join(args)} exited {proc.returncode}:\n{proc.stderr.decode(errors='replace')}")
    return proc


@pytest.fixture(scope="module")
def account(server):
    return server.sts_client().get_caller_identity()["Account"]


def test_admin_is_account_root(server, account):
    who = server.sts_client().get_caller_identity()
    assert who["Arn"] == f"arn:aws:iam::{account}:root"
    assert who["UserId"] == account
    out = json.loads(server.aws("sts", "get-caller-identity").stdout)
    assert out["Arn"] == who["Arn"]


def test_users_keys_and_policies(server, account):
    iam = server.iam_client()
    name = unique("alice")
    user = iam.create_user(UserName=name, Path="/e2e/", Tags=[{"Key": "team", "Value": "blue"}])["User"]
    assert user["Arn"] == f"arn:aws:iam::{account}:user/e2e/{name}"
    assert user["UserId"].startswith("AIDA") and user["Path"] == "/e2e/"
    assert iam.get_user(UserName=name)["User"]["Tags"] == [{"Key": "team", "Value": "blue"}]
    assert name in [u["UserName"] for u in iam.list_users(PathPrefix="/e2e/")["Users"]]
    with pytest.raises(ClientError) as e:
        iam.create_user(UserName=name)
    assert error_of(e) == ("EntityAlreadyExists", 409)
    with pytest.raises(ClientError) as e:
        iam.get_user(UserName=unique("nobody"))
    assert error_of(e) == ("NoSuchEntity", 404)

    key = iam.create_access_key(UserName=name)["AccessKey"]
    assert key["AccessKeyId"].startswith("AKIA") and key["Status"] == "Active"
    # The user's own key, with the stock CLI: STS knows who it is.
    who = json.loads(aws_as(server, key, "sts", "get-caller-identity").stdout)
    assert (who["Arn"], who["UserId"], who["Account"]) == (user["Arn"], user["UserId"], account)

    doc = {"Version": "2012-10-17", "Statement": [{"Sid": "s1", "Effect": "Allow", "Action": "kms:List*",
                                                   "Resource": "*"}]}
    iam.put_user_policy(UserName=name, PolicyName="list", PolicyDocument=json.dumps(doc))
    got = iam.get_user_policy(UserName=name, PolicyName="list")
    assert got["PolicyDocument"] == doc  # URL-encoded on the wire, decoded by botocore as for AWS
    assert iam.list_user_policies(UserName=name)["PolicyNames"] == ["list"]
    with pytest.raises(ClientError) as e:
        iam.put_user_policy(UserName=name, PolicyName="bad", PolicyDocument='{"Statement": [{"Effect": "Allow"}]}')
    assert error_of(e) == ("MalformedPolicyDocument", 400)
    with pytest.raises(ClientError) as e:
        iam.get_user_policy(UserName=name, PolicyName="missing")
    assert error_of(e) == ("NoSuchEntity", 404)
    out = json.loads(aws_as(server, key, "kms", "list-keys").stdout)
    assert "Keys" in out

    with pytest.raises(ClientError) as e:
        iam.delete_user(UserName=name)
    assert error_of(e) == ("DeleteConflict", 409)

    # An inactive key is an unknown client, in each protocol's words.
    iam.update_access_key(UserName=name, AccessKeyId=key["AccessKeyId"], Status="Inactive")
    assert iam.list_access_keys(UserName=name)["AccessKeyMetadata"][0]["Status"] == "Inactive"
    with pytest.raises(ClientError) as e:
        server.sts_client(key["AccessKeyId"], key["SecretAccessKey"]).get_caller_identity()
    assert error_of(e) == ("InvalidClientTokenId", 403)
    with pytest.raises(ClientError) as e:
        server.client(access_key=key["AccessKeyId"], secret_key=key["SecretAccessKey"]).list_keys()
    assert e.value.response["Error"]["Code"] == "UnrecognizedClientException"
    iam.update_access_key(UserName=name, AccessKeyId=key["AccessKeyId"], Status="Active")
    assert server.sts_client(key["AccessKeyId"], key["SecretAccessKey"]).get_caller_identity()["Arn"] == user["Arn"]

    iam.delete_access_key(UserName=name, AccessKeyId=key["AccessKeyId"])
    iam.delete_user_policy(UserName=name, PolicyName="list")
    assert iam.list_user_policies(UserName=name)["PolicyNames"] == []
    iam.delete_user(UserName=name)
    with pytest.raises(ClientError) as e:
        iam.get_user(UserName=name)
    assert error_of(e) == ("NoSuchEntity", 404)


def test_assume_role_as_user_and_use_the_session(server, account):
    iam = server.iam_client()
    name, role_name = unique("bob"), unique("app")
    user = iam.create_user(UserName=name)["User"]
    key = iam.create_access_key(UserName=name)["AccessKey"]
    role = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=trust(user["Arn"]),
                           Description="e2e", MaxSessionDuration=7200)["Role"]
    assert role["Arn"] == f"arn:aws:iam::{account}:role/{role_name}" and role["RoleId"].startswith("AROA")
    got = iam.get_role(RoleName=role_name)["Role"]
    assert got["AssumeRolePolicyDocument"] == json.loads(trust(user["Arn"]))
    assert got["MaxSessionDuration"] == 7200

    # Trusted, but the user's own policies do not allow sts:AssumeRole yet.
    proc = aws_as(server, key, "sts", "assume-role", "--role-arn", role["Arn"], "--role-session-name", "s1",
                  check=False)
    assert proc.returncode != 0 and b"AccessDenied" in proc.stderr, proc.stderr
    iam.put_user_policy(UserName=name, PolicyName="assume", PolicyDocument=json.dumps(ASSUME_ANY))
    out = json.loads(aws_as(server, key, "sts", "assume-role", "--role-arn", role["Arn"],
                            "--role-session-name", "s1").stdout)
    creds = out["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA") and creds["SessionToken"]
    assumed = f"arn:aws:sts::{account}:assumed-role/{role_name}/s1"
    assert out["AssumedRoleUser"]["Arn"] == assumed
    assert out["AssumedRoleUser"]["AssumedRoleId"] == f"{role['RoleId']}:s1"

    who = json.loads(aws_as(server, creds, "sts", "get-caller-identity").stdout)
    assert who["Arn"] == assumed
    # KMS with the temporary credentials, under the role's policy.
    iam.put_role_policy(RoleName=role_name, PolicyName="kms", PolicyDocument=json.dumps(KMS_ALL))
    assert "Keys" in json.loads(aws_as(server, creds, "kms", "list-keys").stdout)
    kms = server._aws_client("kms", creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    assert "Keys" in kms.list_keys()

    # A role trusting someone else is not assumable, policy or not.
    other = iam.create_role(RoleName=unique("other"), AssumeRolePolicyDocument=trust(f"arn:aws:iam::{account}:user/x"))
    with pytest.raises(ClientError) as e:
        server.sts_client(key["AccessKeyId"], key["SecretAccessKey"]).assume_role(
            RoleArn=other["Role"]["Arn"], RoleSessionName="s2")
    assert error_of(e) == ("AccessDenied", 403)
    with pytest.raises(ClientError) as e:
        server.sts_client(key["AccessKeyId"], key["SecretAccessKey"]).assume_role(
            RoleArn=role["Arn"], RoleSessionName="s3", DurationSeconds=7201)
    assert error_of(e) == ("ValidationError", 400)

    with pytest.raises(ClientError) as e:
        iam.delete_role(RoleName=role_name)
    assert error_of(e) == ("DeleteConflict", 409)
    iam.delete_role_policy(RoleName=role_name, PolicyName="kms")
    iam.delete_role(RoleName=role_name)


def test_role_listing_role_policies_and_untagging(server, account):
    iam = server.iam_client()
    role_name, user_name = unique("lister"), unique("tagged")
    role = iam.create_role(RoleName=role_name, Path="/e2e-roles/", AssumeRolePolicyDocument=trust(
        f"arn:aws:iam::{account}:root"), Tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}])["Role"]
    listed = iam.list_roles(PathPrefix="/e2e-roles/")["Roles"]
    assert [r["RoleName"] for r in listed] == [role_name] and listed[0]["Arn"] == role["Arn"]
    assert role_name not in [r["RoleName"] for r in iam.list_roles(PathPrefix="/elsewhere/")["Roles"]]

    iam.put_role_policy(RoleName=role_name, PolicyName="kms", PolicyDocument=json.dumps(KMS_ALL))
    assert iam.list_role_policies(RoleName=role_name)["PolicyNames"] == ["kms"]
    got = iam.get_role_policy(RoleName=role_name, PolicyName="kms")
    assert (got["RoleName"], got["PolicyName"], got["PolicyDocument"]) == (role_name, "kms", KMS_ALL)
    with pytest.raises(ClientError) as e:
        iam.get_role_policy(RoleName=role_name, PolicyName="missing")
    assert error_of(e) == ("NoSuchEntity", 404)
    with pytest.raises(ClientError) as e:
        iam.list_role_policies(RoleName=unique("nobody"))
    assert error_of(e) == ("NoSuchEntity", 404)

    assert iam.list_role_tags(RoleName=role_name)["Tags"] == [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}]
    iam.untag_role(RoleName=role_name, TagKeys=["a", "not-there"])
    assert iam.get_role(RoleName=role_name)["Role"]["Tags"] == [{"Key": "b", "Value": "2"}]
    assert iam.list_role_tags(RoleName=role_name)["Tags"] == [{"Key": "b", "Value": "2"}]

    iam.update_role(RoleName=role_name, Description="updated", MaxSessionDuration=7200)
    got_role = iam.get_role(RoleName=role_name)["Role"]
    assert (got_role["Description"], got_role["MaxSessionDuration"]) == ("updated", 7200)
    new_trust = trust(f"arn:aws:iam::{account}:user/someone")
    iam.update_assume_role_policy(RoleName=role_name, PolicyDocument=new_trust)
    assert iam.get_role(RoleName=role_name)["Role"]["AssumeRolePolicyDocument"] == json.loads(new_trust)
    with pytest.raises(ClientError) as e:
        iam.update_assume_role_policy(RoleName=role_name, PolicyDocument='{"Statement": [{"Effect": "Allow"}]}')
    assert error_of(e) == ("MalformedPolicyDocument", 400)
    iam.create_user(UserName=user_name, Tags=[{"Key": "team", "Value": "blue"}])
    assert iam.list_user_tags(UserName=user_name)["Tags"] == [{"Key": "team", "Value": "blue"}]
    iam.untag_user(UserName=user_name, TagKeys=["team"])
    assert iam.list_user_tags(UserName=user_name)["Tags"] == []
    assert "Tags" not in iam.get_user(UserName=user_name)["User"] or \
        iam.get_user(UserName=user_name)["User"]["Tags"] == []
    with pytest.raises(ClientError) as e:
        iam.untag_user(UserName=user_name, TagKeys=[])
    assert error_of(e) == ("ValidationError", 400)

    # The trail names the role in CreateRole's requestParameters, and leaves the policy document out.
    events = [rec.get("event") for rec in trail_records(server.data_dir / "audit")]
    put = [ev for ev in events if ev and ev["eventName"] == "PutRolePolicy"
           and (ev.get("requestParameters") or {}).get("roleName") == role_name]
    assert put and put[0]["eventSource"] == "iam.amazonaws.com", put
    assert put[0]["requestParameters"] == {"roleName": role_name, "policyName": "kms"}

    iam.delete_role_policy(RoleName=role_name, PolicyName="kms")
    iam.delete_role(RoleName=role_name)
    iam.delete_user(UserName=user_name)


def test_session_expires(make_server, tmp_path):
    clock = tmp_path / "clock"
    clock.write_text("0")
    srv = make_server(extra_args=["--dangerous-test-clock-file", str(clock), "--scheduler-interval-secs", "1"])
    account = srv.sts_client().get_caller_identity()["Account"]
    iam = srv.iam_client()
    iam.create_role(RoleName="short", AssumeRolePolicyDocument=trust(f"arn:aws:iam::{account}:root"))
    iam.put_role_policy(RoleName="short", PolicyName="kms", PolicyDocument=json.dumps(KMS_ALL))
    out = srv.sts_client().assume_role(RoleArn=f"arn:aws:iam::{account}:role/short", RoleSessionName="s1",
                                       DurationSeconds=900)
    c = out["Credentials"]
    sts = srv.sts_client(c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])
    assert sts.get_caller_identity()["Arn"] == f"arn:aws:sts::{account}:assumed-role/short/s1"
    # (DurationSeconds below 900 is refused by botocore itself; the server's check is unit-tested.)

    clock.write_text("901")
    time.sleep(2.5)  # the offset is re-read at each scheduler tick (every second here)
    with pytest.raises(ClientError) as e:
        sts.get_caller_identity()
    assert error_of(e) == ("ExpiredToken", 403)
    assert "expired" in e.value.response["Error"]["Message"]
    proc = aws_as(srv, c, "kms", "list-keys", check=False)
    assert proc.returncode != 0 and b"ExpiredTokenException" in proc.stderr, proc.stderr


def test_admin_create_account(server, account):
    other = "444455556666"
    out = subprocess.run([str(trent_bin()), "admin", "create-account", "--data-dir", str(server.data_dir),
                          "--account-id", other], capture_output=True, text=True, env=clean_base_env(), timeout=30)
    assert out.returncode == 0, out.stderr
    exports = parse_env_exports(out.stdout)
    assert exports["AWS_ENDPOINT_URL"] == server.aws_vars["AWS_ENDPOINT_URL"]
    creds = {"AccessKeyId": exports["AWS_ACCESS_KEY_ID"], "SecretAccessKey": exports["AWS_SECRET_ACCESS_KEY"]}
    assert creds["AccessKeyId"] != server.aws_vars["AWS_ACCESS_KEY_ID"]
    who = json.loads(aws_as(server, creds, "sts", "get-caller-identity").stdout)
    assert (who["Account"], who["Arn"]) == (other, f"arn:aws:iam::{other}:root")
    # The new root manages its own account only.
    iam = server.iam_client(creds["AccessKeyId"], creds["SecretAccessKey"])
    name = unique("carol")
    assert iam.create_user(UserName=name)["User"]["Arn"] == f"arn:aws:iam::{other}:user/{name}"
    with pytest.raises(ClientError) as e:
        server.iam_client().get_user(UserName=name)
    assert error_of(e) == ("NoSuchEntity", 404)
    again = subprocess.run([str(trent_bin()), "admin", "create-account", "--data-dir", str(server.data_dir),
                            "--account-id", other], capture_output=True, text=True, env=clean_base_env(), timeout=30)
    assert parse_env_exports(again.stdout)["AWS_ACCESS_KEY_ID"] == creds["AccessKeyId"]
    bad = subprocess.run([str(trent_bin()), "admin", "create-account", "--data-dir", str(server.data_dir),
                          "--account-id", "12"], capture_output=True, text=True, env=clean_base_env(), timeout=30)
    assert bad.returncode != 0 and "12 digits" in bad.stderr
