//! What each key spec is: which usages it allows, which algorithms it offers, and how its material is made
//! and parsed. One table, so CreateKey, DescribeKey, GetPublicKey and every cryptographic operation agree.

use trent_crypto::asymmetric::{AsymmetricSpec, MacAlgorithm, MacKey, PrivateKey, Purpose, generate_pkcs8};
use trent_crypto::{BackingKey, CryptoError, SecretBytes};

use crate::KmsError;
use crate::cache::Material;
use crate::model::{KeySpec, KeyUsage};

/// The algorithms a key offers, as AWS lists them in KeyMetadata and GetPublicKey.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Algorithms {
    pub encryption: &'static [&'static str],
    pub signing: &'static [&'static str],
    pub mac: &'static [&'static str],
    pub key_agreement: &'static [&'static str],
}

pub fn algorithms(spec: KeySpec, usage: KeyUsage) -> Algorithms {
    use KeySpec as S;
    use KeyUsage as U;
    let none = Algorithms::default();
    match (spec, usage) {
        (S::SymmetricDefault, U::EncryptDecrypt) => Algorithms { encryption: &["SYMMETRIC_DEFAULT"], ..none },
        (S::Rsa2048 | S::Rsa3072 | S::Rsa4096, U::EncryptDecrypt) => {
            Algorithms { encryption: &["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"], ..none }
        }
        (S::Rsa2048 | S::Rsa3072 | S::Rsa4096, U::SignVerify) => Algorithms {
            signing: &[
                "RSASSA_PKCS1_V1_5_SHA_256",
                "RSASSA_PKCS1_V1_5_SHA_384",
                "RSASSA_PKCS1_V1_5_SHA_512",
                "RSASSA_PSS_SHA_256",
                "RSASSA_PSS_SHA_384",
                "RSASSA_PSS_SHA_512",
            ],
            ..none
        },
        (S::EccNistP256 | S::EccSecgP256k1, U::SignVerify) => Algorithms { signing: &["ECDSA_SHA_256"], ..none },
        (S::EccNistP384, U::SignVerify) => Algorithms { signing: &["ECDSA_SHA_384"], ..none },
        (S::EccNistP521, U::SignVerify) => Algorithms { signing: &["ECDSA_SHA_512"], ..none },
        // AWS also offers ED25519_PH_SHA_512 (pre-hashed Ed25519); aws-lc-rs has no Ed25519ph, so Trent does not.
        (S::EccNistEdwards25519, U::SignVerify) => Algorithms { signing: &["ED25519_SHA_512"], ..none },
        (S::EccNistP256 | S::EccNistP384 | S::EccNistP521, U::KeyAgreement) => {
            Algorithms { key_agreement: &["ECDH"], ..none }
        }
        (S::Hmac224, U::GenerateVerifyMac) => Algorithms { mac: &["HMAC_SHA_224"], ..none },
        (S::Hmac256, U::GenerateVerifyMac) => Algorithms { mac: &["HMAC_SHA_256"], ..none },
        (S::Hmac384, U::GenerateVerifyMac) => Algorithms { mac: &["HMAC_SHA_384"], ..none },
        (S::Hmac512, U::GenerateVerifyMac) => Algorithms { mac: &["HMAC_SHA_512"], ..none },
        _ => none,
    }
}

/// The usages AWS allows for a spec (the first is the default where AWS has one).
pub fn allowed_usages(spec: KeySpec) -> &'static [KeyUsage] {
    use KeySpec as S;
    use KeyUsage as U;
    match spec {
        S::SymmetricDefault => &[U::EncryptDecrypt],
        S::Rsa2048 | S::Rsa3072 | S::Rsa4096 => &[U::EncryptDecrypt, U::SignVerify],
        S::EccNistP256 | S::EccNistP384 | S::EccNistP521 => &[U::SignVerify, U::KeyAgreement],
        S::EccSecgP256k1 | S::EccNistEdwards25519 | S::MlDsa44 | S::MlDsa65 | S::MlDsa87 => &[U::SignVerify],
        S::Hmac224 | S::Hmac256 | S::Hmac384 | S::Hmac512 => &[U::GenerateVerifyMac],
        S::Sm2 => &[U::EncryptDecrypt, U::SignVerify, U::KeyAgreement],
    }
}

/// The crypto core's name for an asymmetric spec, or `None` for symmetric and HMAC specs.
pub fn asymmetric(spec: KeySpec) -> Option<AsymmetricSpec> {
    Some(match spec {
        KeySpec::Rsa2048 => AsymmetricSpec::Rsa2048,
        KeySpec::Rsa3072 => AsymmetricSpec::Rsa3072,
        KeySpec::Rsa4096 => AsymmetricSpec::Rsa4096,
        KeySpec::EccNistP256 => AsymmetricSpec::EccP256,
        KeySpec::EccNistP384 => AsymmetricSpec::EccP384,
        KeySpec::EccNistP521 => AsymmetricSpec::EccP521,
        KeySpec::EccSecgP256k1 => AsymmetricSpec::EccSecp256k1,
        KeySpec::EccNistEdwards25519 => AsymmetricSpec::Ed25519,
        _ => return None,
    })
}

pub fn mac_algorithm(spec: KeySpec) -> Option<MacAlgorithm> {
    Some(match spec {
        KeySpec::Hmac224 => MacAlgorithm::HmacSha224,
        KeySpec::Hmac256 => MacAlgorithm::HmacSha256,
        KeySpec::Hmac384 => MacAlgorithm::HmacSha384,
        KeySpec::Hmac512 => MacAlgorithm::HmacSha512,
        _ => return None,
    })
}

fn purpose(usage: KeyUsage) -> Purpose {
    match usage {
        KeyUsage::EncryptDecrypt => Purpose::Encrypt,
        KeyUsage::KeyAgreement => Purpose::Agree,
        KeyUsage::SignVerify | KeyUsage::GenerateVerifyMac => Purpose::Sign,
    }
}

/// True for the specs Trent can create keys of.
pub fn supported(spec: KeySpec) -> bool {
    !matches!(spec, KeySpec::Sm2 | KeySpec::MlDsa44 | KeySpec::MlDsa65 | KeySpec::MlDsa87)
}

/// Fresh material for a new key or version: what gets wrapped and stored.
pub fn generate_material(spec: KeySpec, usage: KeyUsage) -> Result<SecretBytes, KmsError> {
    if let Some(a) = asymmetric(spec) {
        return generate_pkcs8(a, purpose(usage)).map_err(KmsError::internal);
    }
    if let Some(m) = mac_algorithm(spec) {
        return MacKey::generate_material(m).map_err(KmsError::internal);
    }
    trent_crypto::random_secret(trent_crypto::KEY_LEN).map_err(KmsError::internal)
}

/// Parses unwrapped material into what operations use.
pub(crate) fn parse_material(spec: KeySpec, usage: KeyUsage, material: SecretBytes) -> Result<Material, CryptoError> {
    if let Some(a) = asymmetric(spec) {
        return PrivateKey::from_pkcs8(a, purpose(usage), &material).map(Material::Private);
    }
    if let Some(m) = mac_algorithm(spec) {
        return Ok(Material::Mac(Box::new(MacKey::new(m, &material))));
    }
    BackingKey::from_secret(material).map(Material::Symmetric)
}
