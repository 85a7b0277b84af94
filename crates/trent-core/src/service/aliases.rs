//! Aliases: CreateAlias, UpdateAlias, DeleteAlias, ListAliases.

use super::keys::ListPage;
use super::{Action, Caller, Kms, PageRequest, refuse_pending_deletion};
use crate::KmsError;
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
    pub key: Option<(KeyRef, String)>,
    pub page: PageRequest,
}

impl Kms {
    pub fn create_alias(&self, caller: &Caller, name: &str, target: &str) -> Result<(), KmsError> {
        let name = AliasName::parse_for_create(name)?;
        let target_key = alias_target_key(target)?;
        let live = self.resolve(caller, &target_key, Action::CreateAlias)?;
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
        let live = self.resolve(caller, &target_key, Action::UpdateAlias)?;
        refuse_pending_deletion(&live)?;
        let Some(current) = self.store.alias(&caller.account, &name)? else {
            return Err(self.alias_not_found(caller, &name));
        };
        // Only keys of the same type and usage can share an alias, so code using it keeps working.
        if let Some(old) = self.live_key(&current.target)?
            && (old.record.key_spec != live.record.key_spec || old.record.key_usage != live.record.key_usage)
        {
            return Err(KmsError::Validation(format!(
                "{} key usage or key spec does not match the key currently associated with {name}.",
                live.arn
            )));
        }
        let guard = self.cache.write_guard();
        if !self.store.update_alias(&caller.account, &name, &live.record.key_id, self.clock.now().0)? {
            return Err(self.alias_not_found(caller, &name));
        }
        self.cache.put_alias(&caller.account, &name, live.record.key_id, &guard);
        Ok(())
    }

    pub fn delete_alias(&self, caller: &Caller, name: &str) -> Result<(), KmsError> {
        let name = AliasName::parse(name)?;
        // Deleting an alias needs permission on the key it points to, as in AWS.
        let Some(current) = self.store.alias(&caller.account, &name)? else {
            return Err(self.alias_not_found(caller, &name));
        };
        if let Some(live) = self.live_key(&current.target)? {
            self.authorize_key(caller, Action::DeleteAlias, &live, &super::Extra::none())?;
        }
        let guard = self.cache.write_guard();
        if !self.store.delete_alias(&caller.account, &name)? {
            return Err(self.alias_not_found(caller, &name));
        }
        self.cache.remove_alias(&caller.account, &name, &guard);
        Ok(())
    }

    pub fn list_aliases(&self, caller: &Caller, req: &ListAliasesRequest) -> Result<ListPage<AliasEntry>, KmsError> {
        self.authorize_account(caller, Action::ListAliases)?;
        let target = match &req.key {
            Some((key, raw)) => {
                if !key.is_key() {
                    return Err(KmsError::invalid_key_id(raw));
                }
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
