//! Raw RSA keyring: wraps data keys with a local RSA key (PKCS#1 v1.5 or OAEP with SHA-1/256/384/512).
//!
//! EDK: provider id = key namespace; provider info = key name; ciphertext = the RSA output. RSA
//! wrapping does not bind the encryption context (the header authentication does).

use trent_crypto::SecretBytes;
use trent_crypto::esdk::RsaPadding;
use trent_crypto::esdk::{RsaPrivateKey, RsaPublicKey};

use super::{Keyring, check_namespace, generate_data_key};
use crate::{DecryptionMaterials, EncryptedDataKey, EncryptionMaterials, Error, Result};

pub struct RawRsaKeyring {
    namespace: String,
    name: String,
    padding: RsaPadding,
    public: Option<RsaPublicKey>,
    private: Option<RsaPrivateKey>,
}

impl RawRsaKeyring {
    /// A keyring from keys already parsed. With only a public key it can encrypt but not decrypt; with
    /// a private key it can do both.
    pub fn new(
        namespace: &str,
        name: &str,
        padding: RsaPadding,
        public: Option<RsaPublicKey>,
        private: Option<RsaPrivateKey>,
    ) -> Result<Self> {
        check_namespace(namespace)?;
        let public = public.or_else(|| private.as_ref().map(RsaPrivateKey::public_key));
        if public.is_none() {
            return Err(Error::Config("a raw RSA keyring needs a public or a private key".into()));
        }
        Ok(Self { namespace: namespace.to_owned(), name: name.to_owned(), padding, public, private })
    }

    /// A keyring from one PEM block: `PRIVATE KEY` (PKCS#8) or `PUBLIC KEY` (SubjectPublicKeyInfo).
    pub fn from_pem(namespace: &str, name: &str, padding: RsaPadding, pem_text: &str) -> Result<Self> {
        use rustls_pki_types::pem::{Error as PemError, PemObject};
        use rustls_pki_types::{PrivatePkcs8KeyDer, SubjectPublicKeyInfoDer};

        let bad_pem = |e: PemError| Error::InvalidKey(format!("not a PEM file: {e}"));
        match PrivatePkcs8KeyDer::from_pem_slice(pem_text.as_bytes()) {
            Ok(der) => {
                // The parsed DER is copied once into a zeroizing buffer; the key object keeps its own copy.
                let der = SecretBytes::new(der.secret_pkcs8_der().to_vec());
                let private = RsaPrivateKey::from_pkcs8_der(&der)
                    .map_err(|_| Error::InvalidKey("not an RSA PKCS#8 private key".into()))?;
                return Self::new(namespace, name, padding, None, Some(private));
            }
            Err(PemError::NoItemsFound) => {}
            Err(e) => return Err(bad_pem(e)),
        }
        match SubjectPublicKeyInfoDer::from_pem_slice(pem_text.as_bytes()) {
            Ok(der) => {
                let public = RsaPublicKey::from_spki_der(der.as_ref())
                    .map_err(|_| Error::InvalidKey("not an RSA public key".into()))?;
                Self::new(namespace, name, padding, Some(public), None)
            }
            Err(PemError::NoItemsFound) => {
                Err(Error::InvalidKey("no PEM block \"PRIVATE KEY\" (PKCS#8) or \"PUBLIC KEY\" found".into()))
            }
            Err(e) => Err(bad_pem(e)),
        }
    }
}

impl Keyring for RawRsaKeyring {
    fn on_encrypt(&self, materials: &mut EncryptionMaterials) -> Result<()> {
        let public = self.public.as_ref().ok_or_else(|| Error::Keyring("no RSA public key".into()))?;
        if materials.plaintext_data_key().is_none() {
            generate_data_key(materials)?;
        }
        let dk = materials.plaintext_data_key().ok_or_else(|| Error::Keyring("no data key".into()))?;
        let ciphertext = public.wrap(self.padding, dk)?;
        let edk = EncryptedDataKey {
            provider_id: self.namespace.clone(),
            provider_info: self.name.as_bytes().to_vec(),
            ciphertext,
        };
        materials.add_encrypted_data_key(edk);
        Ok(())
    }

    fn on_decrypt(&self, materials: &DecryptionMaterials, edks: &[EncryptedDataKey]) -> Result<SecretBytes> {
        let Some(private) = self.private.as_ref() else {
            return Err(Error::NoDecryptableKey(format!(
                "raw RSA key {}/{} has no private key",
                self.namespace, self.name
            )));
        };
        let want = materials.suite().data_key_len();
        let mut tried = 0;
        for edk in edks.iter().filter(|e| e.provider_id == self.namespace && e.provider_info == self.name.as_bytes()) {
            tried += 1;
            match private.unwrap(self.padding, &edk.ciphertext) {
                Ok(key) if key.len() == want => return Ok(key),
                _ => continue, // wrong key or padding: try the next EDK
            }
        }
        Err(Error::NoDecryptableKey(format!(
            "raw RSA key {}/{}: {tried} matching encrypted data key(s), none decrypted",
            self.namespace, self.name
        )))
    }
}
