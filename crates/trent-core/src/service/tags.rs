//! Tags: TagResource, UntagResource, ListResourceTags.

use std::collections::BTreeMap;

use super::keys::{ListPage, refuse_pending_deletion_record};
use super::{Action, Caller, Kms, PageRequest};
use crate::KmsError;
use crate::ids::KeyRef;

/// AWS's quota of tags per key.
const MAX_TAGS_PER_KEY: usize = 50;

impl Kms {
    pub fn tag_resource(&self, caller: &Caller, key: &KeyRef, tags: &[(String, String)]) -> Result<(), KmsError> {
        let live = self.resolve_direct_with(caller, key, Action::TagResource, &super::Extra::tags(tags))?;
        self.update_key(&live, |r| {
            refuse_pending_deletion_record(r, &live.arn)?;
            r.tags = validate_new_tags(&r.tags, tags)?;
            Ok(())
        })?;
        Ok(())
    }

    pub fn untag_resource(&self, caller: &Caller, key: &KeyRef, tag_keys: &[String]) -> Result<(), KmsError> {
        let extra = super::Extra::none().with("aws:TagKeys", tag_keys.to_vec());
        let live = self.resolve_direct_with(caller, key, Action::UntagResource, &extra)?;
        self.update_key(&live, |r| {
            refuse_pending_deletion_record(r, &live.arn)?;
            for k in tag_keys {
                reject_reserved(k)?;
                r.tags.remove(k);
            }
            Ok(())
        })?;
        Ok(())
    }

    pub fn list_resource_tags(
        &self,
        caller: &Caller,
        key: &KeyRef,
        page: &PageRequest,
    ) -> Result<ListPage<(String, String)>, KmsError> {
        let live = self.resolve_direct(caller, key, Action::ListResourceTags)?;
        let tags = &live.record.tags;
        let start: Box<dyn Iterator<Item = (&String, &String)>> = match &page.marker {
            // The marker is the last tag key of the previous page; resume strictly after it.
            Some(m) => Box::new(tags.range::<String, _>((std::ops::Bound::Excluded(m), std::ops::Bound::Unbounded))),
            None => Box::new(tags.iter()),
        };
        let limit = page.limit();
        let mut items: Vec<(String, String)> = start.take(limit + 1).map(|(k, v)| (k.clone(), v.clone())).collect();
        let next_marker = if items.len() > limit {
            items.truncate(limit);
            items.last().map(|(k, _)| k.clone())
        } else {
            None
        };
        Ok(ListPage { items, next_marker })
    }
}

/// Merges `new` into `existing` (a tag with an existing key replaces its value), enforcing AWS's rules.
pub(super) fn validate_new_tags(
    existing: &BTreeMap<String, String>,
    new: &[(String, String)],
) -> Result<BTreeMap<String, String>, KmsError> {
    let mut seen = std::collections::HashSet::new();
    if !new.iter().all(|(k, _)| seen.insert(k.as_str())) {
        return Err(KmsError::Tag("Duplicate tag keys".into()));
    }
    let mut merged = existing.clone();
    for (k, v) in new {
        reject_reserved(k)?;
        merged.insert(k.clone(), v.clone());
    }
    if merged.len() > MAX_TAGS_PER_KEY {
        return Err(KmsError::Tag("Too many tags".into()));
    }
    Ok(merged)
}

fn reject_reserved(key: &str) -> Result<(), KmsError> {
    if key.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("aws:")) {
        return Err(KmsError::Tag("Tags beginning with aws: are reserved".into()));
    }
    Ok(())
}
