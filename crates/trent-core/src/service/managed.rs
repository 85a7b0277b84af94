//! AWS managed keys: the `alias/aws/<service>` keys that a service (Parameter Store today) creates in the
//! caller's account the first time it needs one, with `KeyManager` AWS.

use std::collections::BTreeMap;

use trent_crypto::BackingKey;

use super::{Caller, Kms};
use crate::KmsError;
use crate::cache::LiveKey;
use crate::ids::{AliasName, KeyId, KeyRef, key_arn};
use crate::model::{AliasRecord, KeyManager, KeyRecord, KeySpec, KeyState, KeyUsage, Origin};

impl Kms {
    /// The AWS managed key of `service` in the caller's account (`alias/aws/<service>`), created on first use.
    ///
    /// CreateAlias refuses the reserved `alias/aws/` namespace to callers, so the alias is written to the store
    /// directly. Two first uses racing each create a key; the alias insert decides the winner and the loser's
    /// key, never used, is destroyed.
    pub fn aws_managed_key(&self, caller: &Caller, service: &str) -> Result<KeyRef, KmsError> {
        let alias = AliasName::parse(&format!("alias/aws/{service}"))?;
        if let Some(a) = self.store.alias(&caller.account, &alias)? {
            return Ok(KeyRef::Id(a.target));
        }
        let key_id = KeyId::random();
        let now = self.clock.now();
        let record = KeyRecord {
            key_id,
            account: caller.account.clone(),
            region: self.region.clone(),
            description: format!("Default key that protects my {} when no other key is defined", describe(service)),
            key_spec: KeySpec::SymmetricDefault,
            key_usage: KeyUsage::EncryptDecrypt,
            origin: Origin::AwsKms,
            state: KeyState::Enabled,
            created: now,
            deletion_date: None,
            pending_window_days: None,
            policy: managed_key_policy(&caller.account.to_string(), service, self.region.as_str()),
            tags: BTreeMap::new(),
            current_version: 1,
            rotation: None,
            materials: Vec::new(),
            key_manager: KeyManager::Aws,
        };
        let arn = key_arn(&record.region, &record.account, &key_id);
        let backing = BackingKey::generate().map_err(KmsError::internal)?;
        let version = self.new_version_record(&arn, key_id, 1, &backing)?;
        self.store.create_key(&record, Some(&version))?;
        let alias_record = AliasRecord {
            account: caller.account.clone(),
            name: alias.clone(),
            target: key_id,
            created: now,
            updated: now,
        };
        match self.store.create_alias(&alias_record) {
            Ok(()) => {
                tracing::info!(key_id = %key_id, %alias, "AWS managed key created");
                Ok(KeyRef::Id(key_id))
            }
            Err(KmsError::AlreadyExists(_)) => {
                // Another request created it first: use theirs, drop ours (no ciphertext refers to it yet).
                self.store.destroy_key(&key_id)?;
                let winner = self
                    .store
                    .alias(&caller.account, &alias)?
                    .ok_or_else(|| KmsError::internal(format!("{alias} vanished while being created")))?;
                Ok(KeyRef::Id(winner.target))
            }
            Err(e) => Err(e),
        }
    }
}

fn describe(service: &str) -> String {
    match service {
        "ssm" => "SSM parameters".to_owned(),
        other => format!("{other} data"),
    }
}

/// The policy AWS gives a service's managed key: usable by the account's principals only through the service
/// (`kms:ViaService`), readable by the account. Stored like any policy; evaluated once policies are.
fn managed_key_policy(account: &str, service: &str, region: &str) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Id": format!("auto-{service}-1"),
        "Statement": [
            {
                "Sid": format!("Allow access through {service} for all principals in the account that are authorized to use {service}"),
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:CreateGrant", "kms:DescribeKey"],
                "Resource": "*",
                "Condition": {"StringEquals": {
                    "kms:ViaService": format!("{service}.{region}.amazonaws.com"),
                    "kms:CallerAccount": account
                }}
            },
            {
                "Sid": "Allow direct access to key metadata to the account",
                "Effect": "Allow",
                "Principal": {"AWS": format!("arn:aws:iam::{account}:root")},
                "Action": ["kms:Describe*", "kms:Get*", "kms:List*", "kms:RevokeGrant"],
                "Resource": "*"
            }
        ]
    })
    .to_string()
}

impl Kms {
    /// AWS managed keys belong to their service: their policy lets account principals use them but not
    /// disable, delete or re-police them, so AWS answers such calls with AccessDeniedException. Until key
    /// policies are evaluated, this check stands in for that denial.
    pub(super) fn refuse_aws_managed(&self, caller: &Caller, live: &LiveKey, action: &str) -> Result<(), KmsError> {
        if live.record.key_manager != KeyManager::Aws {
            return Ok(());
        }
        Err(KmsError::AccessDenied(format!(
            "User: {} is not authorized to perform: kms:{action} on resource: {} because no resource-based policy allows the kms:{action} action",
            caller.principal_arn, live.arn
        )))
    }
}
