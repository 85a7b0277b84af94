//! Handlers for grants: CreateGrant, ListGrants, ListRetirableGrants, RetireGrant, RevokeGrant.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Value, json};
use trent_core::KmsError;
use trent_core::model::GrantOperation;
use trent_core::service::{Caller, CreateGrantRequest, GrantView, Kms, ListPage};

use super::ops::{Out, dry_caller, dry_run, key_id, key_ref, page};
use super::validate::Check;
use super::wire::{epoch, parse, to_body};

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct ConstraintsIn {
    encryption_context_subset: Option<BTreeMap<String, String>>,
    encryption_context_equals: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct GrantIn {
    key_id: Option<String>,
    grantee_principal: Option<String>,
    retiring_principal: Option<String>,
    operations: Option<Vec<String>>,
    constraints: Option<ConstraintsIn>,
    grant_tokens: Option<Vec<String>>,
    name: Option<String>,
    grant_id: Option<String>,
    grant_token: Option<String>,
    limit: Option<i64>,
    marker: Option<String>,
    dry_run: Option<bool>,
}

fn principal(c: &mut Check, v: &Option<String>, field: &str) {
    if let Some(p) = v {
        c.len(p, field, 1, 256);
    }
}

pub(crate) fn create_grant(kms: &Kms, caller: &Caller, body: &[u8]) -> Out {
    let r: GrantIn = parse(body)?;
    let mut c = Check::default();
    let raw = key_id(&mut c, &r.key_id, "keyId");
    c.required(&r.grantee_principal, "granteePrincipal");
    principal(&mut c, &r.grantee_principal, "granteePrincipal");
    principal(&mut c, &r.retiring_principal, "retiringPrincipal");
    c.required(&r.operations, "operations");
    let mut operations = Vec::new();
    for (i, o) in r.operations.iter().flatten().enumerate() {
        if let Some(op) = c.enumeration(
            Some(o),
            &format!("operations.{}.member", i + 1),
            GrantOperation::parse,
            GrantOperation::enum_constraint,
        ) && !operations.contains(&op)
        {
            operations.push(op);
        }
    }
    if let Some(n) = &r.name {
        c.len(n, "name", 1, 256);
    }
    c.finish()?;
    let constraints = r.constraints.unwrap_or_default();
    let raw = raw.unwrap_or_default();
    let (grant_id, token) = dry_run(
        r.dry_run,
        kms.create_grant(
            &dry_caller(caller, r.dry_run),
            &key_ref(&raw)?,
            CreateGrantRequest {
                grantee_principal: r.grantee_principal.unwrap_or_default(),
                retiring_principal: r.retiring_principal,
                operations,
                context_subset: constraints.encryption_context_subset,
                context_equals: constraints.encryption_context_equals,
                name: r.name,
            },
        ),
    )?;
    to_body(&json!({ "GrantToken": token, "GrantId": grant_id }))
}

fn grant_json(v: &GrantView) -> Value {
    let g = &v.grant;
    let mut out = json!({
        "KeyId": v.key_arn,
        "GrantId": g.grant_id,
        "CreationDate": epoch(g.created),
        "GranteePrincipal": g.grantee_principal,
        "IssuingAccount": g.issuing_account,
        "Operations": g.operations.iter().map(|o| o.as_str()).collect::<Vec<_>>(),
    });
    if let Some(n) = &g.name {
        out["Name"] = n.clone().into();
    }
    if let Some(p) = &g.retiring_principal {
        out["RetiringPrincipal"] = p.clone().into();
    }
    let mut constraints = serde_json::Map::new();
    if let Some(s) = &g.context_subset {
        constraints.insert("EncryptionContextSubset".into(), json!(s));
    }
    if let Some(e) = &g.context_equals {
        constraints.insert("EncryptionContextEquals".into(), json!(e));
    }
    if !constraints.is_empty() {
        out["Constraints"] = Value::Object(constraints);
    }
    out
}

fn grants_page(res: ListPage<GrantView>) -> Out {
    let grants: Vec<Value> = res.items.iter().map(grant_json).collect();
    let mut out = json!({ "Grants": grants, "Truncated": res.next_marker.is_some() });
    if let Some(m) = res.next_marker {
        out["NextMarker"] = m.into();
    }
    to_body(&out)
}

pub(crate) fn list_grants(kms: &Kms, caller: &Caller, body: &[u8]) -> Out {
    let r: GrantIn = parse(body)?;
    let mut c = Check::default();
    let raw = key_id(&mut c, &r.key_id, "keyId");
    let p = page(&mut c, r.limit, r.marker);
    principal(&mut c, &r.grantee_principal, "granteePrincipal");
    c.finish()?;
    let raw = raw.unwrap_or_default();
    grants_page(kms.list_grants(caller, &key_ref(&raw)?, r.grant_id.as_deref(), r.grantee_principal.as_deref(), &p)?)
}

pub(crate) fn list_retirable_grants(kms: &Kms, caller: &Caller, body: &[u8]) -> Out {
    let r: GrantIn = parse(body)?;
    let mut c = Check::default();
    c.required(&r.retiring_principal, "retiringPrincipal");
    principal(&mut c, &r.retiring_principal, "retiringPrincipal");
    let p = page(&mut c, r.limit, r.marker);
    c.finish()?;
    grants_page(kms.list_retirable_grants(caller, r.retiring_principal.as_deref().unwrap_or_default(), &p)?)
}

pub(crate) fn retire_grant(kms: &Kms, caller: &Caller, body: &[u8]) -> Out {
    let r: GrantIn = parse(body)?;
    let key = r.key_id.as_deref().map(key_ref).transpose()?;
    dry_run(
        r.dry_run,
        kms.retire_grant(&dry_caller(caller, r.dry_run), r.grant_token.as_deref(), key.as_ref(), r.grant_id.as_deref()),
    )?;
    Ok(b"{}".to_vec())
}

pub(crate) fn revoke_grant(kms: &Kms, caller: &Caller, body: &[u8]) -> Out {
    let r: GrantIn = parse(body)?;
    let mut c = Check::default();
    let raw = key_id(&mut c, &r.key_id, "keyId");
    c.required(&r.grant_id, "grantId");
    c.finish()?;
    let raw = raw.unwrap_or_default();
    let grant_id = r.grant_id.ok_or_else(|| KmsError::internal("validated members missing"))?;
    dry_run(r.dry_run, kms.revoke_grant(&dry_caller(caller, r.dry_run), &key_ref(&raw)?, &grant_id))?;
    Ok(b"{}".to_vec())
}
