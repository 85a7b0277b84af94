//! One handler per IAM and STS action: form parameters in, `trent_core::iam::Iam` call, XML out.

use trent_core::iam::{Iam, IamError, RoleRecord, Tags, UserRecord};
use trent_core::service::Caller;

use super::operation::{IamOperation, StsOperation};
use super::xml::{XmlWriter, url_encode};

pub(crate) const IAM_NAMESPACE: &str = "https://iam.amazonaws.com/doc/2010-05-08/";
pub(crate) const STS_NAMESPACE: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

/// The decoded form of one request.
pub(crate) struct Params(pub(crate) Vec<(String, String)>);

impl Params {
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// A required parameter; AWS's text for a missing one names the member in lower camel case.
    fn req(&self, name: &str) -> Result<&str, IamError> {
        self.get(name).ok_or_else(|| {
            let member = lower_first(name);
            IamError::Validation(format!(
                "1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null"
            ))
        })
    }

    fn u32(&self, name: &str) -> Result<Option<u32>, IamError> {
        self.get(name)
            .map(|v| {
                v.parse::<u32>().map_err(|_| {
                    IamError::Validation(format!("Value '{v}' for parameter {name} is not a valid integer"))
                })
            })
            .transpose()
    }

    /// `Tags.member.N.Key` / `Tags.member.N.Value`, in N order.
    fn tags(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for n in 1.. {
            let Some(k) = self.get(&format!("Tags.member.{n}.Key")) else { break };
            let v = self.get(&format!("Tags.member.{n}.Value")).unwrap_or_default();
            out.push((k.to_owned(), v.to_owned()));
        }
        out
    }

    /// `TagKeys.member.N`, in N order.
    fn tag_keys(&self) -> Vec<String> {
        (1..).map_while(|n| self.get(&format!("TagKeys.member.{n}")).map(str::to_owned)).collect()
    }
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_ascii_lowercase().to_string() + c.as_str()).unwrap_or_default()
}

/// Inside a user or role: the tags, omitted when there are none.
fn write_tags(w: &mut XmlWriter, tags: &Tags) {
    if !tags.is_empty() {
        write_tag_members(w, tags);
    }
}

fn write_tag_members(w: &mut XmlWriter, tags: &Tags) {
    w.open("Tags");
    for (k, v) in tags {
        w.open("member").text("Key", k).text("Value", v).close("member");
    }
    w.close("Tags");
}

/// GetUserPolicy / GetRolePolicy: the owner, the name and the document, URL-encoded as AWS returns it.
fn write_inline_policy(w: &mut XmlWriter, owner_element: &str, owner: &str, name: &str, document: &str) {
    w.text(owner_element, owner).text("PolicyName", name).text("PolicyDocument", &url_encode(document));
}

/// ListUserPolicies / ListRolePolicies.
fn write_policy_names(w: &mut XmlWriter, names: &[String]) {
    w.open("PolicyNames");
    for n in names {
        w.text("member", n);
    }
    w.close("PolicyNames").text("IsTruncated", "false");
}

/// ListUserTags / ListRoleTags: the list is always present, empty or not.
fn write_tag_list(w: &mut XmlWriter, tags: &Tags) {
    write_tag_members(w, tags);
    w.text("IsTruncated", "false");
}

fn write_user(w: &mut XmlWriter, tag: &str, u: &UserRecord) {
    w.open(tag)
        .text("Path", &u.path)
        .text("UserName", &u.name)
        .text("UserId", &u.id)
        .text("Arn", &u.arn)
        .time("CreateDate", u.created);
    write_tags(w, &u.tags);
    w.close(tag);
}

fn write_role(w: &mut XmlWriter, r: &RoleRecord) {
    write_role_as(w, "Role", r);
}

fn write_role_as(w: &mut XmlWriter, element: &str, r: &RoleRecord) {
    w.open(element)
        .text("Path", &r.path)
        .text("RoleName", &r.name)
        .text("RoleId", &r.id)
        .text("Arn", &r.arn)
        .time("CreateDate", r.created)
        .text("AssumeRolePolicyDocument", &url_encode(&r.trust_policy))
        .opt("Description", r.description.as_deref())
        .text("MaxSessionDuration", &r.max_session_secs.to_string());
    write_tags(w, &r.tags);
    w.close(element);
}

fn status(active: bool) -> &'static str {
    if active { "Active" } else { "Inactive" }
}

/// Runs an IAM operation.
pub(crate) fn iam_action(
    iam: &Iam,
    caller: &Caller,
    op: IamOperation,
    p: &Params,
    request_id: &str,
) -> Result<Vec<u8>, IamError> {
    use IamOperation as I;
    let ok =
        |result: Option<&dyn Fn(&mut XmlWriter)>| XmlWriter::response(op.name(), IAM_NAMESPACE, request_id, result);
    Ok(match op {
        I::CreateUser => {
            let u = iam.create_user(caller, p.req("UserName")?, p.get("Path"), p.tags())?;
            ok(Some(&|w| write_user(w, "User", &u)))
        }
        I::GetUser => {
            let u = iam.get_user(caller, p.get("UserName"))?;
            ok(Some(&|w| write_user(w, "User", &u)))
        }
        I::ListUsers => {
            let users = iam.list_users(caller, p.get("PathPrefix"))?;
            ok(Some(&|w| {
                w.text("IsTruncated", "false").open("Users");
                for u in &users {
                    write_user(w, "member", u);
                }
                w.close("Users");
            }))
        }
        I::DeleteUser => {
            iam.delete_user(caller, p.req("UserName")?)?;
            ok(None)
        }
        I::TagUser => {
            iam.tag_user(caller, p.req("UserName")?, p.tags())?;
            ok(None)
        }
        I::ListUserTags => {
            let tags = iam.list_user_tags(caller, p.req("UserName")?)?;
            ok(Some(&|w| write_tag_list(w, &tags)))
        }
        I::UntagUser => {
            iam.untag_user(caller, p.req("UserName")?, &p.tag_keys())?;
            ok(None)
        }
        I::CreateAccessKey => {
            let (user, key, secret) = iam.create_access_key(caller, p.get("UserName"))?;
            // Handing the secret to its owner, once, is this action's purpose.
            let secret = String::from_utf8_lossy(secret.expose_secret()).into_owned();
            ok(Some(&|w| {
                w.open("AccessKey")
                    .text("UserName", &user)
                    .text("AccessKeyId", &key.access_key_id)
                    .text("Status", status(key.active))
                    .text("SecretAccessKey", &secret)
                    .time("CreateDate", key.created)
                    .close("AccessKey");
            }))
        }
        I::ListAccessKeys => {
            let (user, keys) = iam.list_access_keys(caller, p.get("UserName"))?;
            ok(Some(&|w| {
                w.text("UserName", &user).open("AccessKeyMetadata");
                for k in &keys {
                    w.open("member")
                        .text("UserName", &user)
                        .text("AccessKeyId", &k.access_key_id)
                        .text("Status", status(k.active))
                        .time("CreateDate", k.created)
                        .close("member");
                }
                w.close("AccessKeyMetadata").text("IsTruncated", "false");
            }))
        }
        I::DeleteAccessKey => {
            iam.delete_access_key(caller, p.get("UserName"), p.req("AccessKeyId")?)?;
            ok(None)
        }
        I::UpdateAccessKey => {
            let active = match p.req("Status")? {
                "Active" => true,
                "Inactive" => false,
                other => {
                    return Err(IamError::Validation(format!(
                        "1 validation error detected: Value '{other}' at 'status' failed to satisfy constraint: \
                             Member must satisfy enum value set: [Active, Inactive]"
                    )));
                }
            };
            iam.update_access_key(caller, p.get("UserName"), p.req("AccessKeyId")?, active)?;
            ok(None)
        }
        I::PutUserPolicy => {
            iam.put_user_policy(caller, p.req("UserName")?, p.req("PolicyName")?, p.req("PolicyDocument")?)?;
            ok(None)
        }
        I::GetUserPolicy => {
            let name = p.req("PolicyName")?;
            let (user, doc) = iam.get_user_policy(caller, p.req("UserName")?, name)?;
            ok(Some(&|w| write_inline_policy(w, "UserName", &user, name, &doc)))
        }
        I::ListUserPolicies => {
            let names = iam.list_user_policies(caller, p.req("UserName")?)?;
            ok(Some(&|w| write_policy_names(w, &names)))
        }
        I::DeleteUserPolicy => {
            iam.delete_user_policy(caller, p.req("UserName")?, p.req("PolicyName")?)?;
            ok(None)
        }
        I::CreateRole => {
            let r = iam.create_role(
                caller,
                p.req("RoleName")?,
                p.get("Path"),
                p.req("AssumeRolePolicyDocument")?,
                p.get("Description"),
                p.u32("MaxSessionDuration")?,
                p.tags(),
            )?;
            ok(Some(&|w| write_role(w, &r)))
        }
        I::GetRole => {
            let r = iam.get_role(caller, p.req("RoleName")?)?;
            ok(Some(&|w| write_role(w, &r)))
        }
        I::ListRoles => {
            let roles = iam.list_roles(caller, p.get("PathPrefix"))?;
            ok(Some(&|w| {
                w.text("IsTruncated", "false").open("Roles");
                for r in &roles {
                    write_role_as(w, "member", r);
                }
                w.close("Roles");
            }))
        }
        I::DeleteRole => {
            iam.delete_role(caller, p.req("RoleName")?)?;
            ok(None)
        }
        I::PutRolePolicy => {
            iam.put_role_policy(caller, p.req("RoleName")?, p.req("PolicyName")?, p.req("PolicyDocument")?)?;
            ok(None)
        }
        I::GetRolePolicy => {
            let name = p.req("PolicyName")?;
            let (role, doc) = iam.get_role_policy(caller, p.req("RoleName")?, name)?;
            ok(Some(&|w| write_inline_policy(w, "RoleName", &role, name, &doc)))
        }
        I::ListRolePolicies => {
            let names = iam.list_role_policies(caller, p.req("RoleName")?)?;
            ok(Some(&|w| write_policy_names(w, &names)))
        }
        I::DeleteRolePolicy => {
            iam.delete_role_policy(caller, p.req("RoleName")?, p.req("PolicyName")?)?;
            ok(None)
        }
        I::TagRole => {
            iam.tag_role(caller, p.req("RoleName")?, p.tags())?;
            ok(None)
        }
        I::ListRoleTags => {
            let tags = iam.list_role_tags(caller, p.req("RoleName")?)?;
            ok(Some(&|w| write_tag_list(w, &tags)))
        }
        I::UpdateRole => {
            iam.update_role(caller, p.req("RoleName")?, p.get("Description"), p.u32("MaxSessionDuration")?)?;
            // UpdateRole's output is an empty structure, which botocore expects as an empty result element.
            ok(Some(&|_| {}))
        }
        I::UpdateAssumeRolePolicy => {
            iam.update_assume_role_policy(caller, p.req("RoleName")?, p.req("PolicyDocument")?)?;
            ok(None)
        }
        I::UntagRole => {
            iam.untag_role(caller, p.req("RoleName")?, &p.tag_keys())?;
            ok(None)
        }
    })
}

/// Runs an STS operation.
pub(crate) fn sts_action(
    iam: &Iam,
    caller: &Caller,
    op: StsOperation,
    p: &Params,
    request_id: &str,
) -> Result<Vec<u8>, IamError> {
    let ok = |result: &dyn Fn(&mut XmlWriter)| XmlWriter::response(op.name(), STS_NAMESPACE, request_id, Some(result));
    match op {
        StsOperation::GetCallerIdentity => iam.get_caller_identity(caller).map(|who| {
            ok(&|w| {
                w.text("Arn", &who.arn).text("UserId", &who.user_id).text("Account", who.account.as_str());
            })
        }),
        StsOperation::AssumeRole => {
            let role = p.req("RoleArn")?;
            let session = p.req("RoleSessionName")?;
            let s = iam.assume_role(caller, role, session, p.u32("DurationSeconds")?)?;
            // Handing the temporary secret to the caller is this action's purpose.
            let secret = String::from_utf8_lossy(s.credentials.secret.expose_secret()).into_owned();
            Ok(ok(&|w| {
                w.open("Credentials")
                    .text("AccessKeyId", &s.credentials.access_key_id)
                    .text("SecretAccessKey", &secret)
                    .text("SessionToken", &s.credentials.session_token)
                    .time("Expiration", s.credentials.expires)
                    .close("Credentials")
                    .open("AssumedRoleUser")
                    .text("AssumedRoleId", &s.assumed_role_id)
                    .text("Arn", &s.arn)
                    .close("AssumedRoleUser");
            }))
        }
    }
}
