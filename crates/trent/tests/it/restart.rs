//! Durability across a restart: everything created before SIGTERM is there after, on the same data
//! directory, with the same credentials and CA.

use aws_sdk_kms::Client;

use crate::server::{RemoveOnDrop, Server, unique_base_dir};
use crate::{blob, key_arn, ok, tag};

#[tokio::test]
async fn state_survives_a_restart() {
    let base = unique_base_dir();
    let _cleanup = RemoveOnDrop(base.clone());

    let mut first = Server::start(&base, false);
    let c = first.client();
    let created = ok!(c.create_key().description("survivor").tags(tag("team", "crypto")).send());
    let id = created.key_metadata().unwrap().key_id().to_owned();
    ok!(c.create_alias().alias_name("alias/survivor").target_key_id(&id).send());
    ok!(c.tag_resource().key_id(&id).tags(tag("env", "test")).send());
    let ct =
        ok!(c.encrypt().key_id("alias/survivor").plaintext(blob("persist me")).encryption_context("k", "v").send())
            .ciphertext_blob()
            .unwrap()
            .clone();
    let disabled = ok!(c.create_key().send()).key_metadata().unwrap().key_id().to_owned();
    ok!(c.disable_key().key_id(&disabled).send());
    let old_env = first.env.clone();
    let old_ca = first.ca_pem().to_vec();

    // The client keeps an idle keep-alive connection in its pool across the stop: shutdown must not wait
    // for it (the server's drain is bounded at 10 s; an idle HTTP/1 connection should close at once).
    let started = std::time::Instant::now();
    let status = first.stop();
    let took = started.elapsed();
    assert!(took < std::time::Duration::from_secs(5), "SIGTERM with an idle client connection took {took:?}");
    drop(c);
    assert!(status.success(), "trent exits cleanly on SIGTERM: {status}\n{}", crate::server::tail(&first.log, 40));
    let log = std::fs::read_to_string(&first.log).unwrap_or_default();
    assert!(log.contains("shutdown requested"), "the log records the signal:\n{log}");
    drop(first);

    let second = Server::start(&base, false);
    assert_eq!(second.env.access_key_id, old_env.access_key_id, "same credentials after a restart");
    assert_eq!(second.env.secret_access_key, old_env.secret_access_key);
    assert_eq!(second.ca_pem(), old_ca.as_slice(), "same CA after a restart");
    let c: Client = second.client();

    let dec = ok!(c.decrypt().ciphertext_blob(ct).encryption_context("k", "v").send());
    assert_eq!(dec.plaintext().unwrap().as_ref(), b"persist me");
    assert_eq!(dec.key_id(), Some(key_arn(&id).as_str()));
    let d = ok!(c.describe_key().key_id("alias/survivor").send());
    let m = d.key_metadata().unwrap();
    assert_eq!(m.key_id(), id);
    assert_eq!(m.description(), Some("survivor"));
    assert_eq!(m.creation_date(), created.key_metadata().unwrap().creation_date());
    let tags = ok!(c.list_resource_tags().key_id(&id).send());
    let got: Vec<(&str, &str)> = tags.tags().iter().map(|t| (t.tag_key(), t.tag_value())).collect();
    assert_eq!(got, [("env", "test"), ("team", "crypto")]);
    let d = ok!(c.describe_key().key_id(&disabled).send());
    assert!(!d.key_metadata().unwrap().enabled(), "the disabled key stays disabled");
    let keys = ok!(c.list_keys().send());
    assert_eq!(keys.keys().len(), 2);
    let aliases = ok!(c.list_aliases().send());
    assert_eq!(aliases.aliases().len(), 1);
}
