//! Grants: CreateGrant, ListGrants, ListRetirableGrants, RetireGrant, RevokeGrant, and the check
//! authorization makes when neither the key policy nor IAM allows a request.
//!
//! Grants take effect at once in Trent (AWS's are eventually consistent), so grant tokens are accepted and
//! need not be presented. A token names its grant: the grant id followed by a random suffix, new per call.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::keys::ListPage;
use super::{Action, Authorized, Caller, Kms, PageRequest};
use crate::KmsError;
use crate::cache::LiveKey;
use crate::identity::root_arn;
use crate::ids::KeyRef;
use crate::model::{GrantOperation, GrantRecord, KeyState};

/// AWS's quotas: 50,000 grants per key; 500 per grantee per key (enforced here as the per-key bound only).
const MAX_GRANTS_PER_KEY: usize = 50_000;
const GRANT_ID_HEX: usize = 64;

#[derive(Debug, Clone)]
pub struct CreateGrantRequest {
    pub grantee_principal: String,
    pub retiring_principal: Option<String>,
    pub operations: Vec<GrantOperation>,
    pub context_subset: Option<BTreeMap<String, String>>,
    pub context_equals: Option<BTreeMap<String, String>>,
    pub name: Option<String>,
}

/// A grant as ListGrants reports it.
#[derive(Debug, Clone)]
pub struct GrantView {
    pub key_arn: String,
    pub grant: GrantRecord,
}

impl Kms {
    /// Returns (grant id, grant token).
    pub fn create_grant(
        &self,
        caller: &Caller,
        key: &KeyRef,
        req: CreateGrantRequest,
    ) -> Result<(String, String), KmsError> {
        if req.operations.is_empty() {
            return Err(KmsError::validation_one(
                "[]",
                "operations",
                "Member must have length greater than or equal to 1",
            ));
        }
        let mut extra = super::Extra::none()
            .with("kms:GrantOperations", req.operations.iter().map(|o| o.as_str().to_owned()).collect())
            .with("kms:GranteePrincipal", vec![req.grantee_principal.clone()])
            .with(
                "kms:GrantConstraintType",
                [
                    req.context_subset.as_ref().map(|_| "EncryptionContextSubset".to_owned()),
                    req.context_equals.as_ref().map(|_| "EncryptionContextEquals".to_owned()),
                ]
                .into_iter()
                .flatten()
                .collect(),
            );
        if let Some(r) = &req.retiring_principal {
            extra = extra.with("kms:RetiringPrincipal", vec![r.clone()]);
        }
        super::refuse_alias(key)?;
        let (live, how) = self.resolve_authorized(caller, key, Action::CreateGrant, &extra)?;
        // A principal that may create grants only because a grant says so may not widen it (AWS: "Principals
        // who get permission to create grants from a grant are limited in the grants that they can create").
        if let Authorized::ByGrants(parents) = &how
            && !parents.iter().any(|p| derived_grant_within(&req, p))
        {
            return Err(KmsError::AccessDenied(format!(
                "User: {} is not authorized to perform: kms:CreateGrant on resource: {} because the grant that \
                 allows kms:CreateGrant does not allow these operations or constraints",
                caller.principal_arn, live.arn
            )));
        }
        if !matches!(live.record.state, KeyState::Enabled | KeyState::Disabled | KeyState::PendingImport) {
            return Err(KmsError::InvalidState(format!("{} is {}.", live.arn, state_text(live.record.state))));
        }
        if live.record.state == KeyState::Disabled {
            return Err(KmsError::Disabled(format!("{} is disabled.", live.arn)));
        }
        // Same name and same parameters: the same grant, with a new token (AWS's idempotency rule).
        if let Some(name) = &req.name
            && let Some(g) = live.grants.iter().find(|g| {
                g.name.as_deref() == Some(name.as_str())
                    && g.grantee_principal == req.grantee_principal
                    && g.retiring_principal == req.retiring_principal
                    && g.operations == req.operations
                    && g.context_subset == req.context_subset
                    && g.context_equals == req.context_equals
            })
        {
            self.stop_if_dry_run(caller)?;
            return Ok((g.grant_id.clone(), self.new_token(&g.grant_id)?));
        }
        if live.grants.len() >= MAX_GRANTS_PER_KEY {
            return Err(KmsError::LimitExceeded(format!(
                "{} has reached the limit of {MAX_GRANTS_PER_KEY} grants.",
                live.arn
            )));
        }
        self.stop_if_dry_run(caller)?;
        let grant_id = trent_crypto::digest::hex(&trent_crypto::random_array::<32>().map_err(KmsError::internal)?);
        let grant = GrantRecord {
            grant_id: grant_id.clone(),
            key_id: live.record.key_id,
            name: req.name,
            grantee_principal: req.grantee_principal,
            retiring_principal: req.retiring_principal,
            operations: req.operations,
            context_subset: req.context_subset,
            context_equals: req.context_equals,
            issuing_account: root_arn(&caller.account),
            created: self.clock.now(),
        };
        self.store.put_grant(&grant)?;
        self.refresh_grants(&live)?;
        tracing::info!(key = %live.arn, grant_id, "grant created");
        Ok((grant_id.clone(), self.new_token(&grant_id)?))
    }

    pub fn list_grants(
        &self,
        caller: &Caller,
        key: &KeyRef,
        grant_id: Option<&str>,
        grantee: Option<&str>,
        page: &PageRequest,
    ) -> Result<ListPage<GrantView>, KmsError> {
        let live = self.resolve_direct(caller, key, Action::ListGrants)?;
        let matching = live
            .grants
            .iter()
            .filter(|g| grant_id.is_none_or(|id| g.grant_id == id))
            .filter(|g| grantee.is_none_or(|p| g.grantee_principal == p))
            .map(|g| GrantView { key_arn: live.arn.clone(), grant: g.clone() })
            .collect();
        page_after(matching, page)
    }

    pub fn list_retirable_grants(
        &self,
        caller: &Caller,
        retiring: &str,
        page: &PageRequest,
    ) -> Result<ListPage<GrantView>, KmsError> {
        // AWS: the retiring principal must be in the caller's account, and it is the resource IAM policies
        // authorize against. Any other principal is refused before the store is read: its grants may be on
        // other accounts' keys and would disclose their ids, names, grantees and constraints.
        if principal_account(retiring) != Some(caller.account.as_str()) {
            return Err(KmsError::AccessDenied(crate::policy::kms::access_denied_message(
                &caller.principal_arn,
                Action::ListRetirableGrants.as_str(),
                retiring,
                crate::policy::kms::DenyReason::NoIdentityPolicyAllows,
            )));
        }
        self.authorize_identity(caller, Action::ListRetirableGrants, retiring, &super::Extra::none())?;
        let mut out = Vec::new();
        for g in self.store.grants_retirable_by(retiring)? {
            if let Some(live) = self.live_key(&g.key_id)? {
                out.push(GrantView { key_arn: live.arn.clone(), grant: g });
            }
        }
        page_after(out, page)
    }

    /// By grant token, or by key and grant id. The retiring principal, the grantee (if the grant allows
    /// RetireGrant) or the issuing account's root may retire a grant.
    pub fn retire_grant(
        &self,
        caller: &Caller,
        token: Option<&str>,
        key: Option<&KeyRef>,
        grant_id: Option<&str>,
    ) -> Result<(), KmsError> {
        let (live, grant_id) = match (token, key, grant_id) {
            (Some(t), _, _) => {
                let id = t
                    .get(..GRANT_ID_HEX)
                    .filter(|id| id.bytes().all(|b| b.is_ascii_hexdigit()))
                    .ok_or_else(|| KmsError::InvalidGrantToken("The grant token is not valid.".into()))?;
                let found = self.find_grant_anywhere(caller, id)?;
                (found, id.to_owned())
            }
            (None, Some(k), Some(id)) => {
                super::refuse_alias(k)?;
                (self.find(caller, k)?, id.to_owned())
            }
            _ => {
                return Err(KmsError::Validation(
                    "Either GrantToken or both KeyId and GrantId must be specified.".into(),
                ));
            }
        };
        let grant = live
            .grants
            .iter()
            .find(|g| g.grant_id == grant_id)
            .ok_or_else(|| KmsError::InvalidGrantId("The grant id is not valid.".into()))?;
        let may = grant.retiring_principal.as_deref() == Some(caller.principal_arn.as_str())
            || (grant.grantee_principal == caller.principal_arn
                && grant.operations.contains(&GrantOperation::RetireGrant))
            || grant.issuing_account == caller.principal_arn;
        if !may {
            return Err(KmsError::AccessDenied(format!(
                "User: {} is not authorized to perform: kms:RetireGrant on resource: {} because no resource-based policy allows the kms:RetireGrant action",
                caller.principal_arn, live.arn
            )));
        }
        self.stop_if_dry_run(caller)?;
        self.remove_grant(&live, &grant_id)
    }

    pub fn revoke_grant(&self, caller: &Caller, key: &KeyRef, grant_id: &str) -> Result<(), KmsError> {
        let live = self.resolve_direct(caller, key, Action::RevokeGrant)?;
        if !live.grants.iter().any(|g| g.grant_id == grant_id) {
            return Err(KmsError::InvalidGrantId("The grant id is not valid.".into()));
        }
        self.stop_if_dry_run(caller)?;
        self.remove_grant(&live, grant_id)
    }

    /// The grants on `live` that let `caller` perform `action` with this request's encryption context.
    ///
    /// For CreateGrant the parent's encryption-context constraints are not tested against the request (a
    /// CreateGrant request has no encryption context; AWS applies constraints to cryptographic operations
    /// only). They bind the grant being created instead: see [`derived_grant_within`].
    pub(super) fn matching_grants(
        &self,
        caller: &Caller,
        action: Action,
        live: &LiveKey,
        context: Option<&BTreeMap<String, String>>,
    ) -> Vec<GrantRecord> {
        let Some(op) = grant_operation(action) else { return Vec::new() };
        let empty = BTreeMap::new();
        let ctx = context.unwrap_or(&empty);
        live.grants
            .iter()
            .filter(|g| {
                grantee_matches(&g.grantee_principal, &caller.principal_arn)
                    && g.operations.contains(&op)
                    && (op == GrantOperation::CreateGrant
                        || (g.context_equals.as_ref().is_none_or(|eq| eq == ctx)
                            && g.context_subset
                                .as_ref()
                                .is_none_or(|sub| sub.iter().all(|(k, v)| ctx.get(k) == Some(v)))))
            })
            .cloned()
            .collect()
    }

    fn remove_grant(&self, live: &LiveKey, grant_id: &str) -> Result<(), KmsError> {
        self.store.delete_grant(&live.record.key_id, grant_id)?;
        self.refresh_grants(live)?;
        tracing::info!(key = %live.arn, grant_id, "grant removed");
        Ok(())
    }

    fn refresh_grants(&self, live: &LiveKey) -> Result<(), KmsError> {
        let guard = self.cache.write_guard();
        let grants = self.store.grants(&live.record.key_id)?;
        // Start from the freshest cached entry: another change may have landed since `live` was read.
        let current = self.cache.key(&live.record.key_id);
        let base = current.as_deref().unwrap_or(live);
        self.cache.put_key(Arc::new(base.with_grants(grants)), &guard);
        Ok(())
    }

    /// A grant id from a token can be on any key the caller can see; search the keys of its account.
    fn find_grant_anywhere(&self, caller: &Caller, grant_id: &str) -> Result<Arc<LiveKey>, KmsError> {
        let mut after = None;
        loop {
            let ids = self.store.list_keys(&caller.account, after.as_ref(), 1000)?;
            for id in &ids {
                if let Some(live) = self.live_key(id)?
                    && live.grants.iter().any(|g| g.grant_id == grant_id)
                {
                    return Ok(live);
                }
            }
            match ids.last() {
                Some(last) if ids.len() == 1000 => after = Some(*last),
                _ => return Err(KmsError::InvalidGrantToken("The grant token is not valid.".into())),
            }
        }
    }

    fn new_token(&self, grant_id: &str) -> Result<String, KmsError> {
        let suffix = trent_crypto::digest::hex(&trent_crypto::random_array::<16>().map_err(KmsError::internal)?);
        Ok(format!("{grant_id}{suffix}"))
    }
}

fn state_text(s: KeyState) -> &'static str {
    match s {
        KeyState::PendingDeletion => "pending deletion",
        KeyState::PendingImport => "pending import",
        KeyState::Unavailable => "unavailable",
        KeyState::Creating => "creating",
        KeyState::Updating => "updating",
        KeyState::PendingReplicaDeletion => "pending replica deletion",
        KeyState::Enabled => "enabled",
        KeyState::Disabled => "disabled",
    }
}

/// Whether a grant created under the authority of grant `parent` stays within it: its operations are a subset
/// of the parent's, and its encryption-context constraints are the parent's or stricter.
///
/// One parent must cover the whole new grant. Taking the union over several parent grants would let a caller
/// combine the operations of an unconstrained parent with the constraints of another and get an unconstrained
/// grant for operations only a constrained parent gave.
fn derived_grant_within(new: &CreateGrantRequest, parent: &GrantRecord) -> bool {
    if !new.operations.iter().all(|op| parent.operations.contains(op)) {
        return false;
    }
    // EncryptionContextEquals allows exactly one context: only the same constraint is as strict.
    if let Some(eq) = &parent.context_equals
        && new.context_equals.as_ref() != Some(eq)
    {
        return false;
    }
    // EncryptionContextSubset allows every context containing its pairs: the new grant must require them too,
    // either in its own subset constraint or in an equals constraint (which then fixes a context with them).
    if let Some(sub) = &parent.context_subset {
        let contains_all = |m: &BTreeMap<String, String>| sub.iter().all(|(k, v)| m.get(k) == Some(v));
        let by_subset = new.context_subset.as_ref().is_some_and(contains_all);
        let by_equals = new.context_equals.as_ref().is_some_and(contains_all);
        if !by_subset && !by_equals {
            return false;
        }
    }
    true
}

/// The account of a principal ARN (`arn:aws:iam::<account>:...`, `arn:aws:sts::<account>:...`) or of a bare
/// account id.
fn principal_account(principal: &str) -> Option<&str> {
    if principal.len() == 12 && principal.bytes().all(|b| b.is_ascii_digit()) {
        return Some(principal);
    }
    let mut parts = principal.splitn(6, ':');
    match (parts.next(), parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some("arn"), Some(_partition), Some("iam" | "sts"), Some(""), Some(account)) => Some(account),
        _ => None,
    }
}

/// A grantee named by role ARN also covers that role's sessions.
fn grantee_matches(grantee: &str, principal: &str) -> bool {
    if grantee == principal {
        return true;
    }
    let Some(rest) = principal.strip_prefix("arn:aws:sts::") else { return false };
    let Some((account, path)) = rest.split_once(":assumed-role/") else { return false };
    let Some((role, _)) = path.rsplit_once('/') else { return false };
    grantee == format!("arn:aws:iam::{account}:role/{role}")
}

fn grant_operation(action: Action) -> Option<GrantOperation> {
    use GrantOperation as G;
    Some(match action {
        Action::Decrypt => G::Decrypt,
        Action::Encrypt => G::Encrypt,
        Action::GenerateDataKey => G::GenerateDataKey,
        Action::GenerateDataKeyWithoutPlaintext => G::GenerateDataKeyWithoutPlaintext,
        Action::ReEncryptFrom => G::ReEncryptFrom,
        Action::ReEncryptTo => G::ReEncryptTo,
        Action::Sign => G::Sign,
        Action::Verify => G::Verify,
        Action::GetPublicKey => G::GetPublicKey,
        Action::CreateGrant => G::CreateGrant,
        Action::DescribeKey => G::DescribeKey,
        Action::GenerateDataKeyPair => G::GenerateDataKeyPair,
        Action::GenerateDataKeyPairWithoutPlaintext => G::GenerateDataKeyPairWithoutPlaintext,
        Action::GenerateMac => G::GenerateMac,
        Action::VerifyMac => G::VerifyMac,
        Action::DeriveSharedSecret => G::DeriveSharedSecret,
        _ => return None,
    })
}

/// Pages over an in-memory list; the marker is the last grant id of the previous page.
fn page_after(all: Vec<GrantView>, page: &PageRequest) -> Result<ListPage<GrantView>, KmsError> {
    let start = match &page.marker {
        Some(m) => all
            .iter()
            .position(|g| &g.grant.grant_id == m)
            .map(|i| i + 1)
            .ok_or_else(|| KmsError::InvalidMarker("Invalid marker".into()))?,
        None => 0,
    };
    let limit = page.limit();
    let mut items: Vec<GrantView> = all.into_iter().skip(start).take(limit + 1).collect();
    let next_marker = if items.len() > limit {
        items.truncate(limit);
        items.last().map(|g| g.grant.grant_id.clone())
    } else {
        None
    };
    Ok(ListPage { items, next_marker })
}
