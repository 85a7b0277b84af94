//! In-process tests of the Query protocol (IAM, STS) and of session credentials on the KMS path.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;

use crate::test_support::{Creds, app_in};

/// Trent serving eu-west-2, so that the us-east-1 scope of IAM is a separate case.
const REGION: &str = "eu-west-2";

fn app() -> (axum::Router, Creds) {
    app_in(REGION)
}

fn signed(service: &str, region: &str, headers: &[(&str, &str)], body: &str, c: &Creds) -> Request<Body> {
    crate::test_support::signed(service, region, headers, body.as_bytes(), c)
}

async fn send(router: &axum::Router, req: Request<Body>) -> (StatusCode, String, String) {
    let resp = router.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let ct = resp.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, ct, String::from_utf8(body.to_vec()).unwrap())
}

async fn query(router: &axum::Router, service: &str, region: &str, body: &str, c: &Creds) -> (StatusCode, String) {
    let form = [("content-type", "application/x-www-form-urlencoded; charset=utf-8")];
    let (status, ct, body) = send(router, signed(service, region, &form, body, c)).await;
    assert_eq!(ct, "text/xml", "{body}");
    (status, body)
}

fn between<'a>(s: &'a str, tag: &str) -> &'a str {
    let open = format!("<{tag}>");
    let start = s.find(&open).unwrap_or_else(|| panic!("no <{tag}> in {s}")) + open.len();
    let end = s[start..].find(&format!("</{tag}>")).unwrap() + start;
    &s[start..end]
}

fn enc(s: &str) -> String {
    super::xml::url_encode(s)
}

#[tokio::test]
async fn iam_users_roles_and_errors_in_aws_xml() {
    let (r, root) = app();
    let (status, body) =
        query(&r, "iam", REGION, "Action=CreateUser&Version=2010-05-08&UserName=alice&Path=%2Fteam%2F", &root).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        body.contains(
            "<CreateUserResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><CreateUserResult><User>"
        )
    );
    assert_eq!(between(&body, "Arn"), "arn:aws:iam::111122223333:user/team/alice");
    assert!(body.contains("<ResponseMetadata><RequestId>"));

    // The SDKs sign IAM for us-east-1 unless given an endpoint: accepted too; other regions are not.
    let (status, body) =
        query(&r, "iam", "us-east-1", "Action=CreateUser&Version=2010-05-08&UserName=alice", &root).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body.contains(
        "<Type>Sender</Type><Code>EntityAlreadyExists</Code><Message>User with name alice already exists.</Message>"
    ));
    let (status, body) = query(&r, "iam", "ap-south-1", "Action=ListUsers&Version=2010-05-08", &root).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(between(&body, "Code"), "SignatureDoesNotMatch");

    let (status, body) = query(&r, "iam", REGION, "Action=GetUser&Version=2010-05-08&UserName=bob", &root).await;
    assert_eq!((status, between(&body, "Code")), (StatusCode::NOT_FOUND, "NoSuchEntity"));
    let bad = enc(r#"{"Statement":{"Effect":"Allow","Action":"kms:*"}}"#);
    let (status, body) = query(
        &r,
        "iam",
        REGION,
        &format!("Action=PutUserPolicy&Version=2010-05-08&UserName=alice&PolicyName=p&PolicyDocument={bad}"),
        &root,
    )
    .await;
    assert_eq!((status, between(&body, "Code")), (StatusCode::BAD_REQUEST, "MalformedPolicyDocument"), "{body}");
    let (status, body) = query(&r, "iam", REGION, "Action=Frobnicate&Version=2010-05-08", &root).await;
    assert_eq!((status, between(&body, "Code")), (StatusCode::BAD_REQUEST, "InvalidAction"));
    let (status, body) = query(&r, "iam", REGION, "Action=DeleteUser&Version=2010-05-08", &root).await;
    assert_eq!((status, between(&body, "Code")), (StatusCode::BAD_REQUEST, "ValidationError"), "{body}");

    let doc = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}}"#;
    let (status, _) = query(
        &r,
        "iam",
        REGION,
        &format!(
            "Action=PutUserPolicy&Version=2010-05-08&UserName=alice&PolicyName=assume&PolicyDocument={}",
            enc(doc)
        ),
        &root,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (_, body) =
        query(&r, "iam", REGION, "Action=GetUserPolicy&Version=2010-05-08&UserName=alice&PolicyName=assume", &root)
            .await;
    assert_eq!(between(&body, "PolicyDocument"), enc(doc));

    // alice's own key: STS says who she is; a role trusting her hands out session credentials.
    let (_, body) = query(&r, "iam", REGION, "Action=CreateAccessKey&Version=2010-05-08&UserName=alice", &root).await;
    let alice = Creds {
        akid: between(&body, "AccessKeyId").into(),
        secret: between(&body, "SecretAccessKey").into(),
        token: None,
    };
    let (status, body) = query(&r, "sts", REGION, "Action=GetCallerIdentity&Version=2011-06-15", &alice).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"));
    assert_eq!(between(&body, "Arn"), "arn:aws:iam::111122223333:user/team/alice");

    let trust = r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/team/alice"},"Action":"sts:AssumeRole"}}"#;
    let (status, body) = query(
        &r,
        "iam",
        REGION,
        &format!("Action=CreateRole&Version=2010-05-08&RoleName=App&AssumeRolePolicyDocument={}", enc(trust)),
        &root,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let role_arn = between(&body, "Arn").to_owned();
    let (status, body) = query(
        &r,
        "sts",
        "us-east-1",
        &format!(
            "Action=AssumeRole&Version=2011-06-15&RoleArn={}&RoleSessionName=s1&DurationSeconds=900",
            enc(&role_arn)
        ),
        &alice,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let session = Creds {
        akid: between(&body, "AccessKeyId").into(),
        secret: between(&body, "SecretAccessKey").into(),
        token: Some(between(&body, "SessionToken").into()),
    };
    assert_eq!(between(&body, "Arn"), "arn:aws:sts::111122223333:assumed-role/App/s1");

    let (status, body) = query(&r, "sts", REGION, "Action=GetCallerIdentity&Version=2011-06-15", &session).await;
    assert_eq!((status, between(&body, "Arn")), (StatusCode::OK, "arn:aws:sts::111122223333:assumed-role/App/s1"));

    // The session works on the KMS (JSON) path too, under the role's policy; an altered token does not.
    let json = [("content-type", "application/x-amz-json-1.1"), ("x-amz-target", "TrentService.ListKeys")];
    let (status, _, body) = send(&r, signed("kms", REGION, &json, "{}", &session)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "no role policy yet: {body}");
    assert!(body.contains("AccessDeniedException"), "{body}");
    let kms_all = enc(r#"{"Statement":{"Effect":"Allow","Action":"kms:*","Resource":"*"}}"#);
    let (status, _) = query(
        &r,
        "iam",
        REGION,
        &format!("Action=PutRolePolicy&Version=2010-05-08&RoleName=App&PolicyName=kms&PolicyDocument={kms_all}"),
        &root,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, body) = send(&r, signed("kms", REGION, &json, "{}", &session)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut forged = Creds { akid: session.akid.clone(), secret: session.secret.clone(), token: session.token.clone() };
    // Change the last hex digit to another one (a fixed "00" ending was the token itself 1 time in 256).
    forged.token = forged.token.map(|t| {
        let last = if t.ends_with('0') { '1' } else { '0' };
        format!("{}{last}", &t[..t.len() - 1])
    });
    let (status, _, body) = send(&r, signed("kms", REGION, &json, "{}", &forged)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("UnrecognizedClientException"), "{body}");
    let (status, body) = query(&r, "sts", REGION, "Action=GetCallerIdentity&Version=2011-06-15", &forged).await;
    assert_eq!((status, between(&body, "Code")), (StatusCode::FORBIDDEN, "InvalidClientTokenId"));

    // A deactivated key is an unknown client.
    let (status, _) = query(
        &r,
        "iam",
        REGION,
        &format!("Action=UpdateAccessKey&Version=2010-05-08&UserName=alice&AccessKeyId={}&Status=Inactive", alice.akid),
        &root,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = query(&r, "sts", REGION, "Action=GetCallerIdentity&Version=2011-06-15", &alice).await;
    assert_eq!((status, between(&body, "Code")), (StatusCode::FORBIDDEN, "InvalidClientTokenId"));
}
