//! Operations of asymmetric and HMAC keys: Sign, Verify, GetPublicKey, GenerateMac, VerifyMac,
//! DeriveSharedSecret, GenerateDataKeyPair(WithoutPlaintext). RSA Encrypt/Decrypt live with the other
//! encryption operations in `crypto.rs`.

use trent_crypto::SecretBytes;
use trent_crypto::asymmetric::{self, Hash, Purpose, SignInput, SigningAlgorithm, generate_pkcs8};

use super::crypto::{require_symmetric_encryption_key, seal};
use super::{Action, Caller, Kms, require_usable, require_usage};
use crate::KmsError;
use crate::cache::{LiveKey, Material};
use crate::context::EncryptionContext;
use crate::ids::KeyRef;
use crate::model::{DataKeyPairSpec, KeySpec, KeyUsage, MacAlgorithmSpec, MessageType, Origin, SigningAlgorithmSpec};
use crate::specs::{self, Algorithms};

/// What GetPublicKey returns.
#[derive(Debug, Clone)]
pub struct PublicKeyInfo {
    pub key_arn: String,
    pub public_key: Vec<u8>,
    pub key_spec: KeySpec,
    pub key_usage: KeyUsage,
    pub algorithms: Algorithms,
}

/// Debug is safe: the private key is `SecretBytes`.
#[derive(Debug)]
pub struct DataKeyPair {
    pub key_arn: String,
    pub private_key_ciphertext: Vec<u8>,
    /// `None` for GenerateDataKeyPairWithoutPlaintext.
    pub private_key_plaintext: Option<SecretBytes>,
    pub public_key: Vec<u8>,
    pub spec: DataKeyPairSpec,
    pub material_id: String,
}

impl Kms {
    pub fn sign(
        &self,
        caller: &Caller,
        key: &KeyRef,
        message: &[u8],
        message_type: MessageType,
        algorithm: SigningAlgorithmSpec,
    ) -> Result<(String, Vec<u8>), KmsError> {
        let live = self.resolve_with(
            caller,
            key,
            Action::Sign,
            &super::Extra::none()
                .with("kms:SigningAlgorithm", vec![algorithm.to_string()])
                .with("kms:MessageType", vec![message_type.to_string()]),
        )?;
        let (private, alg) = signing_key(&live, algorithm, "Sign")?;
        let input = sign_input(message, message_type, alg, algorithm)?;
        self.stop_if_dry_run(caller)?;
        let signature = private.sign(alg, input).map_err(KmsError::internal)?;
        Ok((live.arn.clone(), signature))
    }

    /// `Ok(arn)` when the signature is valid; `KMSInvalidSignatureException` otherwise (never "false").
    pub fn verify(
        &self,
        caller: &Caller,
        key: &KeyRef,
        message: &[u8],
        message_type: MessageType,
        signature: &[u8],
        algorithm: SigningAlgorithmSpec,
    ) -> Result<String, KmsError> {
        let live = self.resolve_with(
            caller,
            key,
            Action::Verify,
            &super::Extra::none()
                .with("kms:SigningAlgorithm", vec![algorithm.to_string()])
                .with("kms:MessageType", vec![message_type.to_string()]),
        )?;
        let (private, alg) = signing_key(&live, algorithm, "Verify")?;
        let input = sign_input(message, message_type, alg, algorithm)?;
        self.stop_if_dry_run(caller)?;
        match private.verify(alg, input, signature) {
            Ok(true) => Ok(live.arn.clone()),
            _ => Err(KmsError::InvalidSignature),
        }
    }

    pub fn get_public_key(&self, caller: &Caller, key: &KeyRef) -> Result<PublicKeyInfo, KmsError> {
        let live = self.resolve(caller, key, Action::GetPublicKey)?;
        require_usable(&live)?;
        let Some((_, Material::Private(private))) = live.current().map(|(v, e)| (v, &e.material)) else {
            return Err(KmsError::UnsupportedOperation(format!(
                "{} key spec is {} which is not valid for GetPublicKey.",
                live.arn, live.record.key_spec
            )));
        };
        Ok(PublicKeyInfo {
            key_arn: live.arn.clone(),
            public_key: private.public_key_der().to_vec(),
            key_spec: live.record.key_spec,
            key_usage: live.record.key_usage,
            algorithms: specs::algorithms(live.record.key_spec, live.record.key_usage),
        })
    }

    pub fn generate_mac(
        &self,
        caller: &Caller,
        key: &KeyRef,
        message: &[u8],
        algorithm: MacAlgorithmSpec,
    ) -> Result<(String, Vec<u8>), KmsError> {
        let live = self.resolve_with(
            caller,
            key,
            Action::GenerateMac,
            &super::Extra::none().with("kms:MacAlgorithm", vec![algorithm.to_string()]),
        )?;
        let mac = mac_key(&live, algorithm, "GenerateMac")?;
        self.stop_if_dry_run(caller)?;
        Ok((live.arn.clone(), mac.mac(message)))
    }

    /// `Ok(arn)` when the MAC matches (compared in constant time); `KMSInvalidMacException` otherwise.
    pub fn verify_mac(
        &self,
        caller: &Caller,
        key: &KeyRef,
        message: &[u8],
        algorithm: MacAlgorithmSpec,
        tag: &[u8],
    ) -> Result<String, KmsError> {
        let live = self.resolve_with(
            caller,
            key,
            Action::VerifyMac,
            &super::Extra::none().with("kms:MacAlgorithm", vec![algorithm.to_string()]),
        )?;
        let mac = mac_key(&live, algorithm, "VerifyMac")?;
        self.stop_if_dry_run(caller)?;
        if mac.verify(message, tag) { Ok(live.arn.clone()) } else { Err(KmsError::InvalidMac) }
    }

    /// ECDH between the key's private half and `peer_spki`. Returns (key ARN, shared secret, origin).
    pub fn derive_shared_secret(
        &self,
        caller: &Caller,
        key: &KeyRef,
        peer_spki: &[u8],
    ) -> Result<(String, SecretBytes, Origin), KmsError> {
        let live = self.resolve_with(
            caller,
            key,
            Action::DeriveSharedSecret,
            &super::Extra::none().with("kms:KeyAgreementAlgorithm", vec!["ECDH".to_owned()]),
        )?;
        require_usable(&live)?;
        require_usage(&live, KeyUsage::KeyAgreement, "DeriveSharedSecret")?;
        self.stop_if_dry_run(caller)?;
        let Some((_, current)) = live.current() else { return Err(KmsError::internal("no key material")) };
        let Material::Private(private) = &current.material else {
            return Err(KmsError::internal(format!("{} has no private key", live.arn)));
        };
        let secret = private.agree(peer_spki).map_err(|_| {
            KmsError::Validation(format!(
                "The PublicKey is not a valid DER-encoded SubjectPublicKeyInfo for a {} key.",
                live.record.key_spec
            ))
        })?;
        Ok((live.arn.clone(), secret, live.record.origin))
    }

    /// A fresh key pair; the private key is returned encrypted under `key` (a symmetric encryption key) with
    /// `context`, and in plaintext too unless `with_plaintext` is false.
    pub fn generate_data_key_pair(
        &self,
        caller: &Caller,
        key: &KeyRef,
        spec: DataKeyPairSpec,
        context: &EncryptionContext,
        with_plaintext: bool,
    ) -> Result<DataKeyPair, KmsError> {
        let op = if with_plaintext { "GenerateDataKeyPair" } else { "GenerateDataKeyPairWithoutPlaintext" };
        let live = self.resolve_with(
            caller,
            key,
            if with_plaintext { Action::GenerateDataKeyPair } else { Action::GenerateDataKeyPairWithoutPlaintext },
            &super::Extra::context(context, None).with("kms:DataKeyPairSpec", vec![spec.to_string()]),
        )?;
        let asym = match spec {
            DataKeyPairSpec::Rsa2048 => asymmetric::AsymmetricSpec::Rsa2048,
            DataKeyPairSpec::Rsa3072 => asymmetric::AsymmetricSpec::Rsa3072,
            DataKeyPairSpec::Rsa4096 => asymmetric::AsymmetricSpec::Rsa4096,
            DataKeyPairSpec::EccNistP256 => asymmetric::AsymmetricSpec::EccP256,
            DataKeyPairSpec::EccNistP384 => asymmetric::AsymmetricSpec::EccP384,
            DataKeyPairSpec::EccNistP521 => asymmetric::AsymmetricSpec::EccP521,
            DataKeyPairSpec::EccSecgP256k1 => asymmetric::AsymmetricSpec::EccSecp256k1,
            DataKeyPairSpec::EccNistEdwards25519 => asymmetric::AsymmetricSpec::Ed25519,
            DataKeyPairSpec::Sm2 => {
                return Err(KmsError::UnsupportedOperation("SM2 data key pairs exist only in China Regions.".into()));
            }
        };
        require_symmetric_encryption_key(&live, op)?;
        self.stop_if_dry_run(caller)?;
        let pkcs8 = generate_pkcs8(asym, Purpose::Sign).map_err(KmsError::internal)?;
        let public_key = asymmetric::PrivateKey::from_pkcs8(asym, Purpose::Sign, &pkcs8)
            .map_err(KmsError::internal)?
            .public_key_der()
            .to_vec();
        let (ciphertext, material_id) = seal(&live, pkcs8.expose_secret(), context)?;
        Ok(DataKeyPair {
            key_arn: live.arn.clone(),
            private_key_ciphertext: ciphertext,
            private_key_plaintext: with_plaintext.then_some(pkcs8),
            public_key,
            spec,
            material_id,
        })
    }
}

/// The key's private half and the crypto core's algorithm, after the state, usage and algorithm checks.
fn signing_key<'a>(
    live: &'a LiveKey,
    algorithm: SigningAlgorithmSpec,
    op: &str,
) -> Result<(&'a asymmetric::PrivateKey, SigningAlgorithm), KmsError> {
    require_usable(live)?;
    require_usage(live, KeyUsage::SignVerify, op)?;
    let offered = specs::algorithms(live.record.key_spec, live.record.key_usage).signing;
    if !offered.contains(&algorithm.as_str()) {
        return Err(KmsError::InvalidKeyUsage(format!(
            "Algorithm {algorithm} is incompatible with key spec {}.",
            live.record.key_spec
        )));
    }
    let alg = match algorithm {
        SigningAlgorithmSpec::RsassaPssSha256 => SigningAlgorithm::RsaPss(Hash::Sha256),
        SigningAlgorithmSpec::RsassaPssSha384 => SigningAlgorithm::RsaPss(Hash::Sha384),
        SigningAlgorithmSpec::RsassaPssSha512 => SigningAlgorithm::RsaPss(Hash::Sha512),
        SigningAlgorithmSpec::RsassaPkcs1V15Sha256 => SigningAlgorithm::RsaPkcs1(Hash::Sha256),
        SigningAlgorithmSpec::RsassaPkcs1V15Sha384 => SigningAlgorithm::RsaPkcs1(Hash::Sha384),
        SigningAlgorithmSpec::RsassaPkcs1V15Sha512 => SigningAlgorithm::RsaPkcs1(Hash::Sha512),
        SigningAlgorithmSpec::EcdsaSha256 => SigningAlgorithm::Ecdsa(Hash::Sha256),
        SigningAlgorithmSpec::EcdsaSha384 => SigningAlgorithm::Ecdsa(Hash::Sha384),
        SigningAlgorithmSpec::EcdsaSha512 => SigningAlgorithm::Ecdsa(Hash::Sha512),
        SigningAlgorithmSpec::Ed25519Sha512 => SigningAlgorithm::Ed25519,
        other => return Err(KmsError::UnsupportedOperation(format!("{other} is not supported by Trent."))),
    };
    let Some((_, current)) = live.current() else { return Err(KmsError::internal("no key material")) };
    let Material::Private(private) = &current.material else {
        return Err(KmsError::internal(format!("{} has no private key", live.arn)));
    };
    Ok((private, alg))
}

/// RAW signs the message; DIGEST signs a digest whose length must match the algorithm's hash.
fn sign_input<'m>(
    message: &'m [u8],
    message_type: MessageType,
    alg: SigningAlgorithm,
    spec: SigningAlgorithmSpec,
) -> Result<SignInput<'m>, KmsError> {
    match (message_type, alg) {
        (MessageType::Raw, _) => Ok(SignInput::Raw(message)),
        (MessageType::Digest, SigningAlgorithm::Ed25519) => {
            Err(KmsError::Validation(format!("MessageType DIGEST is not valid for signing algorithm {spec}. Use RAW.")))
        }
        (
            MessageType::Digest,
            SigningAlgorithm::RsaPss(h) | SigningAlgorithm::RsaPkcs1(h) | SigningAlgorithm::Ecdsa(h),
        ) => {
            if message.len() != h.digest_len() {
                return Err(KmsError::Validation(format!("Digest is invalid length for algorithm {spec}.")));
            }
            Ok(SignInput::Digest(message))
        }
        (MessageType::ExternalMu, _) => Err(KmsError::Validation(format!(
            "MessageType EXTERNAL_MU is only valid for ML-DSA signing algorithms, not {spec}."
        ))),
    }
}

fn mac_key<'a>(
    live: &'a LiveKey,
    algorithm: MacAlgorithmSpec,
    op: &str,
) -> Result<&'a trent_crypto::asymmetric::MacKey, KmsError> {
    require_usable(live)?;
    require_usage(live, KeyUsage::GenerateVerifyMac, op)?;
    let offered = specs::algorithms(live.record.key_spec, live.record.key_usage).mac;
    if !offered.contains(&algorithm.as_str()) {
        return Err(KmsError::InvalidKeyUsage(format!(
            "Algorithm {algorithm} is incompatible with key spec {}.",
            live.record.key_spec
        )));
    }
    let Some((_, current)) = live.current() else { return Err(KmsError::internal("no key material")) };
    let Material::Mac(mac) = &current.material else {
        return Err(KmsError::internal(format!("{} has no HMAC key", live.arn)));
    };
    Ok(mac)
}
