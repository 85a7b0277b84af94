"""End-to-end: one IAM policy answers the same for every service. The global condition keys (aws:SecureTransport,
aws:SourceIp, aws:PrincipalTag/*) are set by one request-context builder for KMS, Parameter Store, IAM, STS and
CloudTrail, so a conditional Allow or Deny decides a call to any of them alike (security review finding 6: IAM,
STS and CloudTrail used to evaluate policies with no condition keys, so a conditional Deny never applied)."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from conftest import unique


def policy(*statements) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


ALLOW_ALL = {"Effect": "Allow", "Action": "*", "Resource": "*"}


@pytest.fixture(scope="module")
def setup(server):
    """A user with an access key, a role it may be allowed to assume, and clients of every service as the user."""
    iam = server.iam_client()
    account = server.sts_client().get_caller_identity()["Account"]
    name = unique("cond")
    iam.create_user(UserName=name, Tags=[{"Key": "team", "Value": "blocked"}])
    key = iam.create_access_key(UserName=name)["AccessKey"]
    role = iam.create_role(RoleName=unique("condrole"), AssumeRolePolicyDocument=policy(
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "sts:AssumeRole"}))
    creds = (key["AccessKeyId"], key["SecretAccessKey"])
    clients = {service: server._aws_client(service, *creds) for service in ("kms", "ssm", "iam", "sts", "cloudtrail")}
    return name, role["Role"]["Arn"], clients


def calls(clients, role_arn):
    """One call per service, each needing a permission the policy under test decides."""
    return {
        "kms:ListKeys": lambda: clients["kms"].list_keys(),
        "ssm:DescribeParameters": lambda: clients["ssm"].describe_parameters(),
        "iam:ListUsers": lambda: clients["iam"].list_users(),
        "sts:AssumeRole": lambda: clients["sts"].assume_role(RoleArn=role_arn, RoleSessionName="s1"),
        "cloudtrail:LookupEvents": lambda: clients["cloudtrail"].lookup_events(MaxResults=1),
    }


def decisions(clients, role_arn):
    out = {}
    for action, call in calls(clients, role_arn).items():
        try:
            call()
            out[action] = "allowed"
        except ClientError as e:
            code = e.response["Error"]["Code"]
            assert code in ("AccessDenied", "AccessDeniedException"), f"{action}: {code}"
            out[action] = "denied"
    return out


def expect_all(server, setup, statements, verdict):
    name, role_arn, clients = setup
    server.iam_client().put_user_policy(UserName=name, PolicyName="p", PolicyDocument=policy(*statements))
    got = decisions(clients, role_arn)
    assert got == {action: verdict for action in got}, got
    # GetCallerIdentity needs no permission: it answers under any Deny.
    assert clients["sts"].get_caller_identity()["Arn"].endswith(f":user/{name}")


@pytest.mark.parametrize("condition, verdict", [
    ({"Bool": {"aws:SecureTransport": "true"}}, "allowed"),  # the server speaks HTTPS
    ({"Bool": {"aws:SecureTransport": "false"}}, "denied"),
    ({"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}}, "allowed"),  # the client is on loopback
    ({"NotIpAddress": {"aws:SourceIp": "127.0.0.0/8"}}, "denied"),
    ({"StringEquals": {"aws:PrincipalTag/team": "blocked"}}, "allowed"),
    ({"StringEquals": {"aws:PrincipalTag/team": "other"}}, "denied"),
])
def test_a_conditional_allow_decides_every_service_alike(server, setup, condition, verdict):
    expect_all(server, setup, [dict(ALLOW_ALL, Condition=condition)], verdict)


@pytest.mark.parametrize("condition, verdict", [
    ({"Bool": {"aws:SecureTransport": "true"}}, "denied"),
    ({"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}}, "denied"),
    ({"StringEquals": {"aws:PrincipalTag/team": "blocked"}}, "denied"),
    ({"StringEquals": {"aws:PrincipalTag/team": "other"}}, "allowed"),
])
def test_a_conditional_deny_decides_every_service_alike(server, setup, condition, verdict):
    deny = {"Effect": "Deny", "Action": "*", "Resource": "*", "Condition": condition}
    expect_all(server, setup, [ALLOW_ALL, deny], verdict)
