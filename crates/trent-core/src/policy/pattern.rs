//! Wildcard matching as IAM does it: `*` matches any run of characters (including none), `?` exactly one.
//! Actions compare case-insensitively; resources, ARNs and string conditions case-sensitively unless the
//! operator says otherwise.

/// Matches `text` against `pattern` with `*` and `?`. Linear-time greedy algorithm with backtracking to the
/// last star, so a hostile pattern cannot make evaluation exponential.
pub fn wildcard_match(pattern: &str, text: &str, ignore_case: bool) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let eq = |a: char, b: char| if ignore_case { a.to_lowercase().eq(b.to_lowercase()) } else { a == b };
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || (p[pi] != '*' && eq(p[pi], t[ti]))) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// ARN matching for `ArnLike` and resources: each of the six colon-separated parts is matched on its own, so
/// a `*` never spans a colon it should not (the resource part, which may contain colons, takes the rest).
pub fn arn_match(pattern: &str, arn: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    let pp: Vec<&str> = pattern.splitn(6, ':').collect();
    let ap: Vec<&str> = arn.splitn(6, ':').collect();
    if pp.len() != 6 || ap.len() != 6 {
        return wildcard_match(pattern, arn, false);
    }
    pp.iter().zip(ap.iter()).all(|(p, a)| wildcard_match(p, a, false))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        let cases = [
            ("*", "", true),
            ("*", "anything", true),
            ("kms:*", "kms:Encrypt", true),
            ("kms:Encrypt", "kms:encrypt", false),
            ("kms:Gen*Key", "kms:GenerateDataKey", true),
            ("kms:Gen*Key", "kms:GenerateDataKeyPair", false),
            ("kms:Re*", "kms:ReEncryptFrom", true),
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("*a*b*c*", "xxaxxbxxcxx", true),
            ("*a*b*c*", "xxaxxcxxbxx", false),
            ("", "", true),
            ("", "a", false),
        ];
        for (p, t, want) in cases {
            assert_eq!(wildcard_match(p, t, false), want, "{p:?} vs {t:?}");
        }
        assert!(wildcard_match("kms:encrypt", "kms:Encrypt", true));
        // Pathological patterns stay fast.
        let p = "*a".repeat(50);
        let t = "a".repeat(49);
        assert!(!wildcard_match(&p, &t, false));
    }

    #[test]
    fn arns() {
        assert!(arn_match("arn:aws:kms:*:111122223333:key/*", "arn:aws:kms:us-east-1:111122223333:key/abc"));
        assert!(!arn_match("arn:aws:kms:*:111122223333:key/*", "arn:aws:kms:us-east-1:999999999999:key/abc"));
        assert!(arn_match("arn:aws:iam::111122223333:role/*", "arn:aws:iam::111122223333:role/a/b:c"));
        assert!(!arn_match("arn:aws:iam::*:user/x", "arn:aws:iam::111122223333:role/x"));
    }
}
