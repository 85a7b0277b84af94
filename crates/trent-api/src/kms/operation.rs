//! The KMS operations, named once. Adding an operation means adding it here and writing its handler.

macro_rules! operations {
    ($($name:ident),+ $(,)?) => {
        /// Every operation of the AWS KMS API (54), whether or not Trent implements it yet.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub(crate) enum Operation { $($name),+ }

        impl Operation {
            #[cfg_attr(not(any(test, feature = "fuzzing")), allow(dead_code, reason = "used by tests and the fuzz harness"))]
            pub(crate) const ALL: &'static [Operation] = &[$(Operation::$name),+];

            pub(crate) fn from_name(s: &str) -> Option<Self> {
                match s { $(stringify!($name) => Some(Self::$name),)+ _ => None }
            }

            pub(crate) fn name(self) -> &'static str {
                match self { $(Self::$name => stringify!($name)),+ }
            }
        }
    };
}

operations!(
    CancelKeyDeletion,
    ConnectCustomKeyStore,
    CreateAlias,
    CreateCustomKeyStore,
    CreateGrant,
    CreateKey,
    Decrypt,
    DeleteAlias,
    DeleteCustomKeyStore,
    DeleteImportedKeyMaterial,
    DeriveSharedSecret,
    DescribeCustomKeyStores,
    DescribeKey,
    DisableKey,
    DisableKeyRotation,
    DisconnectCustomKeyStore,
    EnableKey,
    EnableKeyRotation,
    Encrypt,
    GenerateDataKey,
    GenerateDataKeyPair,
    GenerateDataKeyPairWithoutPlaintext,
    GenerateDataKeyWithoutPlaintext,
    GenerateMac,
    GenerateRandom,
    GetKeyLastUsage,
    GetKeyPolicy,
    GetKeyRotationStatus,
    GetParametersForImport,
    GetPublicKey,
    ImportKeyMaterial,
    ListAliases,
    ListGrants,
    ListKeyPolicies,
    ListKeyRotations,
    ListKeys,
    ListResourceTags,
    ListRetirableGrants,
    PutKeyPolicy,
    ReEncrypt,
    ReplicateKey,
    RetireGrant,
    RevokeGrant,
    RotateKeyOnDemand,
    ScheduleKeyDeletion,
    Sign,
    TagResource,
    UntagResource,
    UpdateAlias,
    UpdateCustomKeyStore,
    UpdateKeyDescription,
    UpdatePrimaryRegion,
    Verify,
    VerifyMac,
);

impl Operation {
    /// Operations that only use cached keys and CPU. They run on the request's task; everything else may
    /// write to the store and runs on a blocking thread.
    pub(crate) fn is_hot_path(self) -> bool {
        matches!(
            self,
            Self::Encrypt
                | Self::Decrypt
                | Self::ReEncrypt
                | Self::GenerateDataKey
                | Self::GenerateDataKeyWithoutPlaintext
                | Self::GenerateRandom
                | Self::GenerateMac
                | Self::VerifyMac
        )
    }
}

impl Operation {
    /// The operations whose audit events are still read back from the request and response JSON: the rotation
    /// and import handlers (ops_material.rs) note no facts yet (`KmsFacts`). Every other operation's event is
    /// built from what its handler noted.
    pub(crate) fn audit_from_json(self) -> bool {
        use Operation as O;
        matches!(
            self,
            O::EnableKeyRotation
                | O::DisableKeyRotation
                | O::GetKeyRotationStatus
                | O::RotateKeyOnDemand
                | O::ListKeyRotations
                | O::GetParametersForImport
                | O::ImportKeyMaterial
                | O::DeleteImportedKeyMaterial
        )
    }
}

impl Operation {
    /// CloudTrail's `readOnly`: the operations that change no state: reads (Describe, Get, List) and the
    /// cryptographic operations.
    pub(crate) fn is_read_only(self) -> bool {
        use Operation as O;
        matches!(
            self,
            O::DescribeCustomKeyStores
                | O::DescribeKey
                | O::GetKeyLastUsage
                | O::GetKeyPolicy
                | O::GetKeyRotationStatus
                | O::GetParametersForImport
                | O::GetPublicKey
                | O::ListAliases
                | O::ListGrants
                | O::ListKeyPolicies
                | O::ListKeyRotations
                | O::ListKeys
                | O::ListResourceTags
                | O::ListRetirableGrants
                | O::Encrypt
                | O::Decrypt
                | O::ReEncrypt
                | O::GenerateDataKey
                | O::GenerateDataKeyWithoutPlaintext
                | O::GenerateDataKeyPair
                | O::GenerateDataKeyPairWithoutPlaintext
                | O::GenerateRandom
                | O::GenerateMac
                | O::VerifyMac
                | O::Sign
                | O::Verify
                | O::DeriveSharedSecret
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_count() {
        assert_eq!(Operation::ALL.len(), 54);
        for op in Operation::ALL {
            assert_eq!(Operation::from_name(op.name()), Some(*op));
        }
        assert_eq!(Operation::from_name("encrypt"), None);
    }

    /// Every Describe, Get and List operation is read-only, and so is every cryptographic one; the rest write.
    #[test]
    fn read_only_operations() {
        let crypto = [
            "Encrypt",
            "Decrypt",
            "ReEncrypt",
            "GenerateDataKey",
            "GenerateDataKeyWithoutPlaintext",
            "GenerateDataKeyPair",
            "GenerateDataKeyPairWithoutPlaintext",
            "GenerateRandom",
            "GenerateMac",
            "VerifyMac",
            "Sign",
            "Verify",
            "DeriveSharedSecret",
        ];
        for op in Operation::ALL {
            let n = op.name();
            let read =
                n.starts_with("Describe") || n.starts_with("Get") || n.starts_with("List") || crypto.contains(&n);
            assert_eq!(op.is_read_only(), read, "{n}");
        }
    }
}
