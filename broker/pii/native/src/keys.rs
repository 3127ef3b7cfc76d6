//! The token vault's row keys: `broker.pii.sql_keys.reference_keys`, BLAKE2b (RFC 7693) with an
//! 8-byte digest and the personalisation `PERSON`, of `agent`, NUL, `token` in UTF-8, read as a
//! signed little-endian 64-bit integer (blake2b_simd, Debian's librust-blake2b-simd-dev).
//! tests/pii/test_native_keys.py holds the two to the same keys (and to `hashlib.blake2b`).

use blake2b_simd::Params;

/// The personalisation (`person=` of `hashlib.blake2b`).
const PERSON: &[u8] = b"pii-token-key";
const DIGEST: usize = 8;

/// The key of (`agent`, `token`).
pub fn key(agent: &[u8], token: &[u8]) -> i64 {
    let hash = Params::new()
        .hash_length(DIGEST)
        .personal(PERSON)
        .to_state()
        .update(agent)
        .update(b"\0")
        .update(token)
        .finalize();
    i64::from_le_bytes(hash.as_bytes().try_into().expect("an 8-byte digest"))
}
