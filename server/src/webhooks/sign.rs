//! Signing secrets and signatures: HMAC-SHA256 over `timestamp.body`.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::model::WebhookSecret;

/// Every signing secret starts with this.
pub const SECRET_PREFIX: &str = "mtime_whsec_";

/// The version tag in front of a signature, so the scheme can change without ambiguity.
pub const SIGNATURE_VERSION: &str = "v1";

/// Bytes of randomness in a secret.
const SECRET_BYTES: usize = 32;

/// A new signing secret: the prefix and 32 random bytes in hex.
pub fn new_secret() -> anyhow::Result<WebhookSecret> {
    let mut bytes = [0u8; SECRET_BYTES];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    let secret = WebhookSecret::new(format!("{SECRET_PREFIX}{}", hex::encode(bytes)));
    zeroize::Zeroize::zeroize(&mut bytes);
    Ok(secret)
}

/// The `Mtime-Signature` header's value for `body` sent at `timestamp` (Unix seconds):
/// `v1=` and the lowercase hex HMAC-SHA256, keyed with the secret's text (prefix included),
/// of the timestamp's decimal digits, a `.`, and the body's bytes.
pub fn signature(secret: &WebhookSecret, timestamp: i64, body: &[u8]) -> String {
    // HMAC takes keys of any length (long ones are hashed first), so this cannot fail.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.expose().as_bytes())
        .expect("HMAC takes keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("{SIGNATURE_VERSION}={}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_carry_the_prefix_and_32_random_bytes() {
        let a = new_secret().unwrap();
        let b = new_secret().unwrap();
        assert!(a.expose().starts_with("mtime_whsec_"));
        assert_eq!(a.expose().len(), "mtime_whsec_".len() + 64);
        assert_ne!(a, b);
        assert_eq!(format!("{a:?}"), "WebhookSecret([redacted])");
    }

    fn hmac_hex(key: &[u8], data: &[u8]) -> String {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).unwrap();
        mac.update(data);
        hex::encode(mac.finalize().into_bytes())
    }

    #[test]
    fn the_signature_is_hmac_sha256_over_timestamp_dot_body() {
        // RFC 4231, test case 2: the primitive is HMAC-SHA256 as published.
        assert_eq!(
            hmac_hex(b"Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        let secret = WebhookSecret::new("mtime_whsec_00".to_owned());
        let expected = hmac_hex(b"mtime_whsec_00", b"1700000000.{\"seq\":1}");
        assert_eq!(signature(&secret, 1_700_000_000, b"{\"seq\":1}"), format!("v1={expected}"));
        assert_ne!(signature(&secret, 1_700_000_001, b"{\"seq\":1}"), format!("v1={expected}"));
    }
}
