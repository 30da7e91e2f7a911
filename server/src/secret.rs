//! API keys and enrollment codes: made from the operating system's randomness, shown once,
//! stored only as hashes.

use sha2::{Digest, Sha256};

/// Every API key starts with this.
pub const API_KEY_PREFIX: &str = "mtime_ak_";

/// Bytes of randomness in an API key.
const API_KEY_BYTES: usize = 32;

/// Characters of an enrollment code, in groups of four.
const CODE_LEN: usize = 12;

/// Crockford's base32: no I, L, O or U, so a code read aloud or typed is unambiguous.
const CODE_ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

fn random_bytes<const N: usize>() -> anyhow::Result<[u8; N]> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    Ok(bytes)
}

/// A new API key: the prefix and 32 random bytes in hex.
pub fn new_api_key() -> anyhow::Result<String> {
    Ok(format!("{API_KEY_PREFIX}{}", hex::encode(random_bytes::<API_KEY_BYTES>()?)))
}

/// The hash an API key is stored and found by.
pub fn api_key_hash(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// What may be shown of a key: its prefix and first characters.
pub fn api_key_display_prefix(key: &str) -> String {
    key.chars().take(API_KEY_PREFIX.len() + 6).collect()
}

/// A new one-time enrollment code, such as `7KQ2-M9XD-4R0P` (60 random bits).
pub fn new_enrollment_code() -> anyhow::Result<String> {
    let bytes = random_bytes::<CODE_LEN>()?;
    let mut code = String::with_capacity(CODE_LEN + 2);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 && i % 4 == 0 {
            code.push('-');
        }
        code.push(char::from(CODE_ALPHABET[usize::from(b & 31)]));
    }
    Ok(code)
}

/// The hash an enrollment code is stored and found by, after normalising what a person
/// may type differently: case, dashes, spaces, and the letters read as digits.
pub fn enrollment_code_hash(code: &str) -> [u8; 32] {
    let normal: String = code
        .chars()
        .filter(|c| !matches!(c, '-' | ' '))
        .map(|c| match c.to_ascii_uppercase() {
            'O' => '0',
            'I' | 'L' => '1',
            c => c,
        })
        .collect();
    Sha256::digest(normal.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_keys_carry_the_prefix_and_32_random_bytes() {
        let a = new_api_key().unwrap();
        let b = new_api_key().unwrap();
        assert!(a.starts_with("mtime_ak_"));
        assert_eq!(a.len(), "mtime_ak_".len() + 64);
        assert_ne!(a, b);
        assert_ne!(api_key_hash(&a), api_key_hash(&b));
    }

    #[test]
    fn enrollment_codes_match_however_they_are_typed() {
        let code = new_enrollment_code().unwrap();
        assert_eq!(code.len(), 14);
        let typed = code.to_lowercase().replace('-', " ");
        assert_eq!(enrollment_code_hash(&code), enrollment_code_hash(&typed));
        assert_eq!(enrollment_code_hash("0000-1111"), enrollment_code_hash("oooo-iLlI"));
    }
}
