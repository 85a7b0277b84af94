//! Handlers for grants: CreateGrant, ListGrants, ListRetirableGrants, RetireGrant, RevokeGrant.

use serde_json::{Value, json};
use trent_core::service::{Caller, GrantView, Kms, ListPage};

use super::audit_facts::KmsFacts;
use super::ops::{Out, dry_caller, dry_run};
use super::request::{CreateGrant, DryRunnable, FromBody, ListGrants, ListRetirableGrants, RetireGrant, RevokeGrant};
use super::wire::{epoch, to_body};

pub(crate) fn create_grant(kms: &Kms, caller: &Caller, body: &[u8], facts: &mut KmsFacts) -> Out {
    let DryRunnable { request: r, dry_run: dry } = DryRunnable::<CreateGrant>::from_body_noted(body, facts)?;
    let (grant_id, token) = dry_run(dry, kms.create_grant(&dry_caller(caller, dry), &r.key, r.grant))?;
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

pub(crate) fn list_grants(kms: &Kms, caller: &Caller, body: &[u8], facts: &mut KmsFacts) -> Out {
    let r = ListGrants::from_body_noted(body, facts)?;
    grants_page(kms.list_grants(caller, &r.key, r.grant_id.as_deref(), r.grantee_principal.as_deref(), &r.page)?)
}

pub(crate) fn list_retirable_grants(kms: &Kms, caller: &Caller, body: &[u8], facts: &mut KmsFacts) -> Out {
    let r = ListRetirableGrants::from_body_noted(body, facts)?;
    grants_page(kms.list_retirable_grants(caller, &r.retiring_principal, &r.page)?)
}

pub(crate) fn retire_grant(kms: &Kms, caller: &Caller, body: &[u8], facts: &mut KmsFacts) -> Out {
    let DryRunnable { request: r, dry_run: dry } = DryRunnable::<RetireGrant>::from_body_noted(body, facts)?;
    dry_run(
        dry,
        kms.retire_grant(&dry_caller(caller, dry), r.grant_token.as_deref(), r.key.as_ref(), r.grant_id.as_deref()),
    )?;
    Ok(b"{}".to_vec())
}

pub(crate) fn revoke_grant(kms: &Kms, caller: &Caller, body: &[u8], facts: &mut KmsFacts) -> Out {
    let DryRunnable { request: r, dry_run: dry } = DryRunnable::<RevokeGrant>::from_body_noted(body, facts)?;
    dry_run(dry, kms.revoke_grant(&dry_caller(caller, dry), &r.key, &r.grant_id))?;
    Ok(b"{}".to_vec())
}
