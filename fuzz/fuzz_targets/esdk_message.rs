//! Encryption SDK messages come from anywhere: the header parser and a full decrypt with a raw AES keyring
//! must never panic, and garbage must never decrypt.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trent_crypto::SecretBytes;
use trent_esdk::keyring::RawAesKeyring;
use trent_esdk::{Client, DecryptOptions, DefaultMaterialsManager};

fuzz_target!(|data: &[u8]| {
    let _ = trent_esdk::header::parse_header(data);
    let Ok(keyring) = RawAesKeyring::new("fuzz", "key", SecretBytes::new(vec![7; 32])) else { return };
    let cmm = DefaultMaterialsManager::new(std::sync::Arc::new(keyring));
    let _ = Client::new().decrypt(&cmm, data, &DecryptOptions::default());
});
