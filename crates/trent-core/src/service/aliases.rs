//! Aliases: CreateAlias, UpdateAlias, DeleteAlias, ListAliases.

use super::keys::ListPage;
use super::{Action, Caller, Kms, PageRequest, refuse_pending_deletion};
use crate::KmsError;
use crate::cache::LiveKey;
use crate::ids::{AliasName, KeyId, KeyRef, alias_arn};
use crate::model::{AliasRecord, Timestamp};

/// AWS's quota of aliases per key.
const MAX_ALIASES_PER_KEY: usize = 50;

#[derive(Debug, Clone)]
pub struct AliasEntry {
    pub name: AliasName,
    pub arn: String,
    pub target: KeyId,
    pub created: Timestamp,
    pub updated: Timestamp,
}

#[derive(Debug, Clone, Default)]
pub struct ListAliasesRequest {
    pub key: Option<KeyRef>,
    pub page: PageRequest,
}

impl Kms {
    pub fn create_alias(&self, caller: &Caller, name: &str, target: &str) -> Result<(), KmsError> {
        let name = AliasName::parse_for_create(name)?;
        let target_key = alias_target_key(target)?;
        // AWS: kms:CreateAlias on the alias (IAM policy: aliases have no key policy) and on the key.
        self.authorize_alias(caller, Action::CreateAlias, &name)?;
        let live = self.resolve(caller, &target_key, Action::CreateAlias)?;
        self.refuse_other_account(caller, &live)?;
        refuse_pending_deletion(&live)?;
        if self.store.count_aliases(&live.record.key_id)? >= MAX_ALIASES_PER_KEY {
            return Err(KmsError::LimitExceeded(format!(
                "Too many aliases for {}. The limit is {MAX_ALIASES_PER_KEY} aliases per KMS key.",
                live.arn
            )));
        }
        let now = self.clock.now();
        let record = AliasRecord {
            account: caller.account.clone(),
            name: name.clone(),
            target: live.record.key_id,
            created: now,
            updated: now,
        };
        let guard = self.cache.write_guard();
        self.store.create_alias(&record).map_err(|e| match e {
            KmsError::AlreadyExists(_) => KmsError::AlreadyExists(format!(
                "An alias with the name {} already exists",
                alias_arn(&self.region, &caller.account, &name)
            )),
            other => other,
        })?;
        self.cache.put_alias(&caller.account, &name, live.record.key_id, &guard);
        Ok(())
    }

    pub fn update_alias(&self, caller: &Caller, name: &str, target: &str) -> Result<(), KmsError> {
        let name = AliasName::parse_for_create(name)?;
        let target_key = alias_target_key(target)?;
        // AWS: kms:UpdateAlias on the alias (IAM policy), on the key it points to now and on the new key.
        // Permission on the new key alone would let anyone with a key of their own repoint every alias of the
        // account to it and read what applications encrypt through the alias.
        self.authorize_alias(caller, Action::UpdateAlias, &name)?;
        let live = self.resolve(caller, &target_key, Action::UpdateAlias)?;
        self.refuse_other_account(caller, &live)?;
        refuse_pending_deletion(&live)?;
        let Some(current) = self.store.alias(&caller.account, &name)? else {
            return Err(self.alias_not_found(caller, &name));
        };
        if let Some(old) = self.live_key(&current.target)? {
            self.authorize_key(caller, Action::UpdateAlias, &old, &super::Extra::none())?;
            // Only keys of the same type and usage can share an alias, so code using it keeps working.
            if old.record.key_spec != live.record.key_spec || old.record.key_usage != live.record.key_usage {
                return Err(KmsError::Validation(format!(
                    "{} key usage or key spec does not match the key currently associated with {name}.",
                    live.arn
                )));
            }
        }
        let guard = self.cache.write_guard();
        // Only if the alias still points where it did when the current key was authorized: a concurrent
        // UpdateAlias must not make this call act on a key it was never checked against.
        if !self.store.update_alias(&caller.account, &name, &current.target, &live.record.key_id, self.clock.now().0)? {
            return Err(KmsError::Conflict(format!(
                "Alias {} changed while it was being updated. Retry the request.",
                alias_arn(&self.region, &caller.account, &name)
            )));
        }
        self.cache.put_alias(&caller.account, &name, live.record.key_id, &guard);
        Ok(())
    }

    /// Returns the ARN of the key the alias pointed to (the trail names it).
    pub fn delete_alias(&self, caller: &Caller, name: &str) -> Result<String, KmsError> {
        let name = AliasName::parse(name)?;
        // AWS: kms:DeleteAlias on the alias (IAM policy) and on the key it points to.
        self.authorize_alias(caller, Action::DeleteAlias, &name)?;
        let Some(current) = self.store.alias(&caller.account, &name)? else {
            return Err(self.alias_not_found(caller, &name));
        };
        let live = self.live_key(&current.target)?;
        if let Some(live) = &live {
            self.authorize_key(caller, Action::DeleteAlias, live, &super::Extra::none())?;
        }
        let guard = self.cache.write_guard();
        if !self.store.delete_alias(&caller.account, &name)? {
            return Err(self.alias_not_found(caller, &name));
        }
        self.cache.remove_alias(&caller.account, &name, &guard);
        // The alias can only point at a key of the caller's account (a destroyed one has no live entry).
        Ok(live.map_or_else(|| crate::ids::key_arn(self.region(), &caller.account, &current.target), |l| l.arn.clone()))
    }

    pub fn list_aliases(&self, caller: &Caller, req: &ListAliasesRequest) -> Result<ListPage<AliasEntry>, KmsError> {
        self.authorize_account(caller, Action::ListAliases)?;
        let target = match &req.key {
            Some(key) => {
                super::refuse_alias(key)?;
                Some(self.find(caller, key)?.record.key_id)
            }
            None => None,
        };
        let after = match &req.page.marker {
            Some(m) => Some(AliasName::parse(m).map_err(|_| KmsError::InvalidMarker("Invalid marker".into()))?),
            None => None,
        };
        let limit = req.page.limit();
        let mut rows = self.store.list_aliases(&caller.account, target.as_ref(), after.as_ref(), limit + 1)?;
        let next_marker = if rows.len() > limit {
            rows.truncate(limit);
            rows.last().map(|a| a.name.to_string())
        } else {
            None
        };
        let items = rows
            .into_iter()
            .map(|a| AliasEntry {
                arn: alias_arn(&self.region, &a.account, &a.name),
                name: a.name,
                target: a.target,
                created: a.created,
                updated: a.updated,
            })
            .collect();
        Ok(ListPage { items, next_marker })
    }

    /// The alias half of Create/Update/DeleteAlias: IAM policies on the alias ARN decide (key policies
    /// cannot name aliases); an account root may manage every alias of its account.
    fn authorize_alias(&self, caller: &Caller, action: Action, name: &AliasName) -> Result<(), KmsError> {
        let arn = alias_arn(&self.region, &caller.account, name);
        self.authorize_identity(caller, action, &arn, &super::Extra::none())
    }

    /// An alias and its key must be in the same account (AWS: "Cross-account use: No").
    fn refuse_other_account(&self, caller: &Caller, live: &LiveKey) -> Result<(), KmsError> {
        if live.record.account != caller.account {
            return Err(KmsError::NotFound(format!("Key '{}' does not exist", live.arn)));
        }
        Ok(())
    }

    fn alias_not_found(&self, caller: &Caller, name: &AliasName) -> KmsError {
        KmsError::NotFound(format!("Alias {} is not found.", alias_arn(&self.region, &caller.account, name)))
    }
}

/// Aliases must point at keys, never at other aliases.
fn alias_target_key(target: &str) -> Result<KeyRef, KmsError> {
    let key = KeyRef::parse(target)?;
    if !key.is_key() {
        return Err(KmsError::Validation("Aliases must refer to keys. Not aliases".into()));
    }
    Ok(key)
}
