//! Domain model: key specs, usages, states and the records the store keeps.

use std::collections::BTreeMap;

use crate::ids::{AccountId, AliasName, KeyId, Region};

/// Milliseconds since the Unix epoch, UTC. Integers keep the store portable (SQLite now, PostgreSQL later).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub const DAY_MS: i64 = 24 * 60 * 60 * 1000;

    pub fn plus_days(self, days: u32) -> Self {
        Self(self.0 + i64::from(days) * Self::DAY_MS)
    }

    /// Seconds with a fractional part, as AWS JSON timestamps are sent.
    pub fn epoch_seconds_f64(self) -> f64 {
        self.0 as f64 / 1000.0
    }

    /// `2026-11-28T17:40:00Z` (whole seconds, UTC), as XML protocols and people read dates.
    pub fn to_rfc3339(self) -> String {
        const FORMAT: &[time::format_description::BorrowedFormatItem<'static>] =
            time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
        let t = time::OffsetDateTime::from_unix_timestamp(self.0.div_euclid(1000)).ok();
        // Only a time outside years 0..=9999 fails; no timestamp Trent makes is.
        t.and_then(|t| t.format(FORMAT).ok()).unwrap_or_else(|| "9999-12-31T23:59:59Z".to_owned())
    }
}

#[cfg(test)]
mod timestamp_tests {
    use super::Timestamp;

    #[test]
    fn rfc3339_known_answers() {
        assert_eq!(Timestamp(0).to_rfc3339(), "1970-01-01T00:00:00Z");
        assert_eq!(Timestamp(1_780_272_000_000).to_rfc3339(), "2026-06-01T00:00:00Z");
        assert_eq!(Timestamp(951_782_400_000).to_rfc3339(), "2000-02-29T00:00:00Z");
        assert_eq!(Timestamp(-1000).to_rfc3339(), "1969-12-31T23:59:59Z");
    }
}

macro_rules! wire_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            pub fn parse(s: &str) -> Option<Self> {
                match s { $($text => Some($name::$variant),)+ _ => None }
            }

            /// `[A, B, C]`, as AWS lists the allowed values in a validation message.
            pub fn enum_constraint() -> String {
                let names: Vec<&str> = Self::ALL.iter().map(|v| v.as_str()).collect();
                format!("Member must satisfy enum value set: [{}]", names.join(", "))
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

wire_enum!(
    /// The cryptographic configuration of a KMS key.
    KeySpec {
        SymmetricDefault = "SYMMETRIC_DEFAULT",
        Rsa2048 = "RSA_2048",
        Rsa3072 = "RSA_3072",
        Rsa4096 = "RSA_4096",
        EccNistP256 = "ECC_NIST_P256",
        EccNistP384 = "ECC_NIST_P384",
        EccNistP521 = "ECC_NIST_P521",
        EccSecgP256k1 = "ECC_SECG_P256K1",
        EccNistEdwards25519 = "ECC_NIST_EDWARDS25519",
        Hmac224 = "HMAC_224",
        Hmac256 = "HMAC_256",
        Hmac384 = "HMAC_384",
        Hmac512 = "HMAC_512",
        Sm2 = "SM2",
        MlDsa44 = "ML_DSA_44",
        MlDsa65 = "ML_DSA_65",
        MlDsa87 = "ML_DSA_87",
    }
);

wire_enum!(
    KeyUsage {
        EncryptDecrypt = "ENCRYPT_DECRYPT",
        SignVerify = "SIGN_VERIFY",
        GenerateVerifyMac = "GENERATE_VERIFY_MAC",
        KeyAgreement = "KEY_AGREEMENT",
    }
);

wire_enum!(
    KeyState {
        Creating = "Creating",
        Enabled = "Enabled",
        Disabled = "Disabled",
        PendingDeletion = "PendingDeletion",
        PendingImport = "PendingImport",
        PendingReplicaDeletion = "PendingReplicaDeletion",
        Unavailable = "Unavailable",
        Updating = "Updating",
    }
);

wire_enum!(
    Origin {
        AwsKms = "AWS_KMS",
        External = "EXTERNAL",
        AwsCloudhsm = "AWS_CLOUDHSM",
        ExternalKeyStore = "EXTERNAL_KEY_STORE",
    }
);

wire_enum!(
    EncryptionAlgorithm {
        SymmetricDefault = "SYMMETRIC_DEFAULT",
        RsaesOaepSha1 = "RSAES_OAEP_SHA_1",
        RsaesOaepSha256 = "RSAES_OAEP_SHA_256",
        Sm2Pke = "SM2PKE",
    }
);

wire_enum!(
    RotationType {
        Automatic = "AUTOMATIC",
        OnDemand = "ON_DEMAND",
    }
);

wire_enum!(
    ExpirationModel {
        KeyMaterialExpires = "KEY_MATERIAL_EXPIRES",
        KeyMaterialDoesNotExpire = "KEY_MATERIAL_DOES_NOT_EXPIRE",
    }
);

wire_enum!(
    /// Whether ImportKeyMaterial brings material new to the key (a rotation to come, or the first material) or
    /// material the key already has (a re-import, to restore it or change its expiry).
    ImportType {
        NewKeyMaterial = "NEW_KEY_MATERIAL",
        ExistingKeyMaterial = "EXISTING_KEY_MATERIAL",
    }
);

wire_enum!(
    /// How a key uses one of its materials: CURRENT encrypts and decrypts, NON_CURRENT only decrypts,
    /// PENDING_ROTATION (imported, not yet rotated in) does neither and is not yet bound to the key.
    KeyMaterialState {
        NonCurrent = "NON_CURRENT",
        Current = "CURRENT",
        PendingRotation = "PENDING_ROTATION",
    }
);

wire_enum!(
    /// Whether an imported material is present (`IMPORTED`) or was deleted or expired (`PENDING_IMPORT`).
    MaterialImportState {
        Imported = "IMPORTED",
        PendingImport = "PENDING_IMPORT",
    }
);

wire_enum!(
    WrappingAlgorithm {
        RsaesPkcs1V15 = "RSAES_PKCS1_V1_5",
        RsaesOaepSha1 = "RSAES_OAEP_SHA_1",
        RsaesOaepSha256 = "RSAES_OAEP_SHA_256",
        RsaAesKeyWrapSha1 = "RSA_AES_KEY_WRAP_SHA_1",
        RsaAesKeyWrapSha256 = "RSA_AES_KEY_WRAP_SHA_256",
        Sm2Pke = "SM2PKE",
    }
);

wire_enum!(
    WrappingKeySpec {
        Rsa2048 = "RSA_2048",
        Rsa3072 = "RSA_3072",
        Rsa4096 = "RSA_4096",
        Sm2 = "SM2",
    }
);

wire_enum!(
    /// Who manages a key: the account (`CUSTOMER`), or an AWS service on the account's behalf (`AWS`, the
    /// `alias/aws/<service>` keys services create on first use).
    KeyManager {
        Customer = "CUSTOMER",
        Aws = "AWS",
    }
);

wire_enum!(
    SigningAlgorithmSpec {
        RsassaPssSha256 = "RSASSA_PSS_SHA_256",
        RsassaPssSha384 = "RSASSA_PSS_SHA_384",
        RsassaPssSha512 = "RSASSA_PSS_SHA_512",
        RsassaPkcs1V15Sha256 = "RSASSA_PKCS1_V1_5_SHA_256",
        RsassaPkcs1V15Sha384 = "RSASSA_PKCS1_V1_5_SHA_384",
        RsassaPkcs1V15Sha512 = "RSASSA_PKCS1_V1_5_SHA_512",
        EcdsaSha256 = "ECDSA_SHA_256",
        EcdsaSha384 = "ECDSA_SHA_384",
        EcdsaSha512 = "ECDSA_SHA_512",
        Sm2Dsa = "SM2DSA",
        MlDsaShake256 = "ML_DSA_SHAKE_256",
        Ed25519Sha512 = "ED25519_SHA_512",
        Ed25519PhSha512 = "ED25519_PH_SHA_512",
    }
);

wire_enum!(
    MessageType {
        Raw = "RAW",
        Digest = "DIGEST",
        ExternalMu = "EXTERNAL_MU",
    }
);

wire_enum!(
    MacAlgorithmSpec {
        HmacSha224 = "HMAC_SHA_224",
        HmacSha256 = "HMAC_SHA_256",
        HmacSha384 = "HMAC_SHA_384",
        HmacSha512 = "HMAC_SHA_512",
    }
);

wire_enum!(
    KeyAgreementAlgorithmSpec {
        Ecdh = "ECDH",
    }
);

wire_enum!(
    DataKeyPairSpec {
        Rsa2048 = "RSA_2048",
        Rsa3072 = "RSA_3072",
        Rsa4096 = "RSA_4096",
        EccNistP256 = "ECC_NIST_P256",
        EccNistP384 = "ECC_NIST_P384",
        EccNistP521 = "ECC_NIST_P521",
        EccSecgP256k1 = "ECC_SECG_P256K1",
        Sm2 = "SM2",
        EccNistEdwards25519 = "ECC_NIST_EDWARDS25519",
    }
);

wire_enum!(
    GrantOperation {
        Decrypt = "Decrypt",
        Encrypt = "Encrypt",
        GenerateDataKey = "GenerateDataKey",
        GenerateDataKeyWithoutPlaintext = "GenerateDataKeyWithoutPlaintext",
        ReEncryptFrom = "ReEncryptFrom",
        ReEncryptTo = "ReEncryptTo",
        Sign = "Sign",
        Verify = "Verify",
        GetPublicKey = "GetPublicKey",
        CreateGrant = "CreateGrant",
        RetireGrant = "RetireGrant",
        DescribeKey = "DescribeKey",
        GenerateDataKeyPair = "GenerateDataKeyPair",
        GenerateDataKeyPairWithoutPlaintext = "GenerateDataKeyPairWithoutPlaintext",
        GenerateMac = "GenerateMac",
        VerifyMac = "VerifyMac",
        DeriveSharedSecret = "DeriveSharedSecret",
    }
);

wire_enum!(
    DataKeySpec {
        Aes256 = "AES_256",
        Aes128 = "AES_128",
    }
);

impl DataKeySpec {
    pub fn byte_len(self) -> usize {
        match self {
            Self::Aes256 => 32,
            Self::Aes128 => 16,
        }
    }
}

/// Everything Trent keeps about one KMS key except its material.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyRecord {
    pub key_id: KeyId,
    pub account: AccountId,
    pub region: Region,
    pub description: String,
    pub key_spec: KeySpec,
    pub key_usage: KeyUsage,
    pub origin: Origin,
    pub state: KeyState,
    pub created: Timestamp,
    pub deletion_date: Option<Timestamp>,
    pub pending_window_days: Option<u32>,
    pub policy: String,
    pub tags: BTreeMap<String, String>,
    /// The backing-key version new encryptions use; 0 while an imported key has no material.
    pub current_version: u32,
    /// Automatic rotation: `Some` while enabled.
    pub rotation: Option<RotationSchedule>,
    /// The materials of an EXTERNAL key, by version (empty for other origins and before the first import).
    /// A record outlives its material: a deleted or expired material stays associated with the key until the
    /// same material is imported again.
    pub materials: Vec<ImportedMaterial>,
    /// `Aws` for the managed keys Trent's own services create (`alias/aws/ssm`).
    pub key_manager: KeyManager,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RotationSchedule {
    pub period_days: u32,
    pub next: Timestamp,
}

/// One imported key material of an EXTERNAL key. Public metadata only: the material itself is a key version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedMaterial {
    /// The backing-key version blobs made with this material name.
    pub version: u32,
    /// AWS's `KeyMaterialId`: 64 hex characters, derived from the key id and the material.
    pub material_id: String,
    pub description: Option<String>,
    pub state: KeyMaterialState,
    /// False once the material was deleted or expired (`ImportState` PENDING_IMPORT).
    pub imported: bool,
    pub expiration: ExpirationModel,
    /// Set only while imported with KEY_MATERIAL_EXPIRES.
    pub valid_to: Option<Timestamp>,
    /// When an on-demand rotation made this material current (imported material only rotates on demand).
    pub rotated: Option<Timestamp>,
}

impl ImportedMaterial {
    pub fn import_state(&self) -> MaterialImportState {
        if self.imported { MaterialImportState::Imported } else { MaterialImportState::PendingImport }
    }

    /// CURRENT and NON_CURRENT material is bound to the key for good: without it the key is unusable.
    pub fn is_permanent(&self) -> bool {
        self.state != KeyMaterialState::PendingRotation
    }
}

impl KeyRecord {
    /// The material new encryptions use, for an EXTERNAL key that has had one.
    pub fn current_material(&self) -> Option<&ImportedMaterial> {
        self.materials.iter().find(|m| m.state == KeyMaterialState::Current)
    }

    /// DescribeKey's ExpirationModel: present once material was imported; KEY_MATERIAL_EXPIRES if any material
    /// bound to the key expires.
    pub fn expiration_model(&self) -> Option<ExpirationModel> {
        if self.materials.is_empty() {
            return None;
        }
        let expires =
            self.materials.iter().any(|m| m.is_permanent() && m.expiration == ExpirationModel::KeyMaterialExpires);
        Some(if expires { ExpirationModel::KeyMaterialExpires } else { ExpirationModel::KeyMaterialDoesNotExpire })
    }

    /// DescribeKey's ValidTo: the earliest expiry of any material bound to the key.
    pub fn earliest_valid_to(&self) -> Option<Timestamp> {
        self.materials.iter().filter(|m| m.is_permanent() && m.imported).filter_map(|m| m.valid_to).min()
    }

    /// When the scheduler next has material of this key to erase (pending material included).
    pub fn next_material_expiry(&self) -> Option<Timestamp> {
        self.materials.iter().filter(|m| m.imported).filter_map(|m| m.valid_to).min()
    }
}

/// One version of a key's backing material, wrapped under the root key.
#[derive(Clone, PartialEq)]
pub struct KeyVersionRecord {
    pub key_id: KeyId,
    pub version: u32,
    /// Root-key-wrapped material; bound to key ARN and version as associated data.
    pub wrapped: Vec<u8>,
    /// AWS's `KeyMaterialId`: 64 hex characters, public.
    pub material_id: String,
    pub created: Timestamp,
    /// How this version came to be: `None` for a key's first material.
    pub rotation: Option<RotationType>,
}

impl std::fmt::Debug for KeyVersionRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyVersionRecord")
            .field("key_id", &self.key_id)
            .field("version", &self.version)
            .field("material_id", &self.material_id)
            .field("rotation", &self.rotation)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct AliasRecord {
    pub account: AccountId,
    pub name: AliasName,
    pub target: KeyId,
    pub created: Timestamp,
    pub updated: Timestamp,
}

/// An access key: the id is public, the secret is stored wrapped under the root key.
#[derive(Clone)]
pub struct AccessKeyRecord {
    pub access_key_id: String,
    pub account: AccountId,
    pub principal_arn: String,
    pub wrapped_secret: Vec<u8>,
    pub active: bool,
    pub created: Timestamp,
}

impl std::fmt::Debug for AccessKeyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessKeyRecord")
            .field("access_key_id", &self.access_key_id)
            .field("principal_arn", &self.principal_arn)
            .field("active", &self.active)
            .finish_non_exhaustive()
    }
}

/// The parameters GetParametersForImport handed out for a key: one set per key, replaced by the next call.
#[derive(Clone)]
pub struct ImportParamsRecord {
    pub key_id: KeyId,
    /// Opaque token returned to the caller; compared in constant time.
    pub token: Vec<u8>,
    pub wrapping_algorithm: WrappingAlgorithm,
    /// PKCS#8 of the RSA wrapping key, wrapped under the root key.
    pub wrapped_private_key: Vec<u8>,
    pub valid_to: Timestamp,
}

impl std::fmt::Debug for ImportParamsRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImportParamsRecord")
            .field("key_id", &self.key_id)
            .field("wrapping_algorithm", &self.wrapping_algorithm)
            .field("valid_to", &self.valid_to)
            .finish_non_exhaustive()
    }
}

/// A grant: permission for one principal to perform some operations with one key, optionally only for
/// requests whose encryption context matches the constraints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantRecord {
    /// 64 hex characters.
    pub grant_id: String,
    pub key_id: KeyId,
    pub name: Option<String>,
    pub grantee_principal: String,
    pub retiring_principal: Option<String>,
    pub operations: Vec<GrantOperation>,
    pub context_subset: Option<BTreeMap<String, String>>,
    pub context_equals: Option<BTreeMap<String, String>>,
    /// `arn:aws:iam::<account>:root` of the account that created the grant.
    pub issuing_account: String,
    pub created: Timestamp,
}
