//! Requests of the grant operations: CreateGrant, ListGrants, ListRetirableGrants, RetireGrant, RevokeGrant.

use trent_core::ids::KeyRef;
use trent_core::model::GrantOperation;
use trent_core::service::{CreateGrantRequest, PageRequest};

use super::{DryRunnable, FromBody, key_id, key_ref, optional_key_ref, page};
use crate::error::ApiError;
use crate::kms::validate::Check;
use crate::kms::wire;

/// A principal member's length (1 to 256), when present.
fn principal(c: &mut Check, v: &Option<String>, field: &str) {
    if let Some(p) = v {
        c.len(p, field, 1, 256);
    }
}

pub(crate) struct CreateGrant {
    pub(crate) key: KeyRef,
    pub(crate) grant: CreateGrantRequest,
}

impl FromBody for DryRunnable<CreateGrant> {
    type Wire = wire::GrantIn;
}

impl TryFrom<wire::GrantIn> for DryRunnable<CreateGrant> {
    type Error = ApiError;

    fn try_from(r: wire::GrantIn) -> Result<Self, ApiError> {
        let mut c = Check::default();
        let key = key_id(&mut c, &r.key_id, "keyId");
        let grantee = c.required(&r.grantee_principal, "granteePrincipal").cloned();
        principal(&mut c, &r.grantee_principal, "granteePrincipal");
        principal(&mut c, &r.retiring_principal, "retiringPrincipal");
        let listed = c.required(&r.operations, "operations").map(|_| ());
        // Repeated operations count once.
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
        let (key, grantee_principal, ()) = c.finish_with((key, grantee, listed))?;
        let (context_subset, context_equals) = match r.constraints {
            Some(k) => (k.encryption_context_subset, k.encryption_context_equals),
            None => (None, None),
        };
        let grant = CreateGrantRequest {
            grantee_principal,
            retiring_principal: r.retiring_principal,
            operations,
            context_subset,
            context_equals,
            name: r.name,
        };
        Ok(Self::new(CreateGrant { key: key_ref(&key)?, grant }, r.dry_run))
    }
}

pub(crate) struct ListGrants {
    pub(crate) key: KeyRef,
    pub(crate) grant_id: Option<String>,
    pub(crate) grantee_principal: Option<String>,
    pub(crate) page: PageRequest,
}

impl FromBody for ListGrants {
    type Wire = wire::GrantIn;
}

impl TryFrom<wire::GrantIn> for ListGrants {
    type Error = ApiError;

    fn try_from(r: wire::GrantIn) -> Result<Self, ApiError> {
        let mut c = Check::default();
        let key = key_id(&mut c, &r.key_id, "keyId");
        let page = page(&mut c, r.limit, r.marker);
        principal(&mut c, &r.grantee_principal, "granteePrincipal");
        let key = c.finish_with(key)?;
        Ok(Self { key: key_ref(&key)?, grant_id: r.grant_id, grantee_principal: r.grantee_principal, page })
    }
}

pub(crate) struct ListRetirableGrants {
    pub(crate) retiring_principal: String,
    pub(crate) page: PageRequest,
}

impl FromBody for ListRetirableGrants {
    type Wire = wire::GrantIn;
}

impl TryFrom<wire::GrantIn> for ListRetirableGrants {
    type Error = ApiError;

    fn try_from(r: wire::GrantIn) -> Result<Self, ApiError> {
        let mut c = Check::default();
        let retiring = c.required(&r.retiring_principal, "retiringPrincipal").cloned();
        principal(&mut c, &r.retiring_principal, "retiringPrincipal");
        let page = page(&mut c, r.limit, r.marker);
        Ok(Self { retiring_principal: c.finish_with(retiring)?, page })
    }
}

/// By grant token, or by key and grant id; which of them suffices is the service's to say, with AWS's message.
pub(crate) struct RetireGrant {
    pub(crate) grant_token: Option<String>,
    pub(crate) key: Option<KeyRef>,
    pub(crate) grant_id: Option<String>,
}

impl FromBody for DryRunnable<RetireGrant> {
    type Wire = wire::GrantIn;
}

impl TryFrom<wire::GrantIn> for DryRunnable<RetireGrant> {
    type Error = ApiError;

    fn try_from(r: wire::GrantIn) -> Result<Self, ApiError> {
        let key = optional_key_ref(r.key_id.as_deref())?;
        Ok(Self::new(RetireGrant { grant_token: r.grant_token, key, grant_id: r.grant_id }, r.dry_run))
    }
}

pub(crate) struct RevokeGrant {
    pub(crate) key: KeyRef,
    pub(crate) grant_id: String,
}

impl FromBody for DryRunnable<RevokeGrant> {
    type Wire = wire::GrantIn;
}

impl TryFrom<wire::GrantIn> for DryRunnable<RevokeGrant> {
    type Error = ApiError;

    fn try_from(r: wire::GrantIn) -> Result<Self, ApiError> {
        let mut c = Check::default();
        let key = key_id(&mut c, &r.key_id, "keyId");
        let grant_id = c.required(&r.grant_id, "grantId").cloned();
        let (key, grant_id) = c.finish_with((key, grant_id))?;
        Ok(Self::new(RevokeGrant { key: key_ref(&key)?, grant_id }, r.dry_run))
    }
}
