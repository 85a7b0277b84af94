//! A KMS request body for any operation, after authentication: JSON decoding, validation and the service.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (op, body) = match data.split_first() {
        Some((op, body)) => (*op, body),
        None => return,
    };
    trent_api::fuzzing::kms_request(op, body);
});
