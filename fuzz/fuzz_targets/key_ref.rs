//! Every KeyId request member goes through KeyRef::parse and alias parsing.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trent_core::ids::{AliasName, KeyRef};

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = KeyRef::parse(s);
        let _ = AliasName::parse_for_create(s);
    }
});
