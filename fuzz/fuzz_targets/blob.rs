//! Ciphertext blobs arrive from callers: parsing and opening must never panic, and garbage never authenticates.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trent_crypto::blob::Blob;
use trent_crypto::{BackingKey, SecretBytes};

fuzz_target!(|data: &[u8]| {
    let Ok(key) = BackingKey::from_secret(SecretBytes::new(vec![7; 32])) else { return };
    if let Ok(blob) = Blob::parse(data) {
        assert!(blob.open(&key, &[0, 0]).is_err());
    }
});
