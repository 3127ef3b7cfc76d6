//! The token vault's row keys: `broker.pii.sql_keys.reference_keys`, BLAKE2b (RFC 7693) with an
//! 8-byte digest and the personalisation `PERSON`, of `agent`, NUL, `token` in UTF-8, read as a
//! signed little-endian 64-bit integer. One message block for the usual (agent, token) of under
//! 128 bytes; longer ones go through the same loop. tests/pii/test_native_keys.py holds the two
//! to the same keys (and to `hashlib.blake2b`).

const IV: [u64; 8] = [
    0x6a09e667f3bcc908,
    0xbb67ae8584caa73b,
    0x3c6ef372fe94f82b,
    0xa54ff53a5f1d36f1,
    0x510e527fade682d1,
    0x9b05688c2b3e6c1f,
    0x1f83d9abfb41bd6b,
    0x5be0cd19137e2179,
];

const SIGMA: [[usize; 16]; 12] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
    [14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3],
    [11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4],
    [7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8],
    [9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13],
    [2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9],
    [12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11],
    [13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10],
    [6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5],
    [10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0],
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
    [14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3],
];

/// The personalisation (`person=` of `hashlib.blake2b`), zero-padded to 16 bytes.
const PERSON: &[u8; 16] = b"pii-token-key\0\0\0";
const DIGEST: u64 = 8;

#[inline(always)]
fn g(v: &mut [u64; 16], a: usize, b: usize, c: usize, d: usize, x: u64, y: u64) {
    v[a] = v[a].wrapping_add(v[b]).wrapping_add(x);
    v[d] = (v[d] ^ v[a]).rotate_right(32);
    v[c] = v[c].wrapping_add(v[d]);
    v[b] = (v[b] ^ v[c]).rotate_right(24);
    v[a] = v[a].wrapping_add(v[b]).wrapping_add(y);
    v[d] = (v[d] ^ v[a]).rotate_right(16);
    v[c] = v[c].wrapping_add(v[d]);
    v[b] = (v[b] ^ v[c]).rotate_right(63);
}

fn compress(h: &mut [u64; 8], block: &[u8; 128], counted: u128, last: bool) {
    let mut m = [0u64; 16];
    for (word, bytes) in m.iter_mut().zip(block.chunks_exact(8)) {
        *word = u64::from_le_bytes(bytes.try_into().unwrap());
    }
    let mut v = [0u64; 16];
    v[..8].copy_from_slice(h);
    v[8..].copy_from_slice(&IV);
    v[12] ^= counted as u64;
    v[13] ^= (counted >> 64) as u64;
    if last {
        v[14] = !v[14];
    }
    for s in SIGMA.iter() {
        g(&mut v, 0, 4, 8, 12, m[s[0]], m[s[1]]);
        g(&mut v, 1, 5, 9, 13, m[s[2]], m[s[3]]);
        g(&mut v, 2, 6, 10, 14, m[s[4]], m[s[5]]);
        g(&mut v, 3, 7, 11, 15, m[s[6]], m[s[7]]);
        g(&mut v, 0, 5, 10, 15, m[s[8]], m[s[9]]);
        g(&mut v, 1, 6, 11, 12, m[s[10]], m[s[11]]);
        g(&mut v, 2, 7, 8, 13, m[s[12]], m[s[13]]);
        g(&mut v, 3, 4, 9, 14, m[s[14]], m[s[15]]);
    }
    for i in 0..8 {
        h[i] ^= v[i] ^ v[i + 8];
    }
}

/// The key of (`agent`, `token`).
pub fn key(agent: &[u8], token: &[u8]) -> i64 {
    let mut h = IV;
    h[0] ^= 0x0101_0000 ^ DIGEST; // digest length, no key, fanout 1, depth 1
    h[6] ^= u64::from_le_bytes(PERSON[..8].try_into().unwrap());
    h[7] ^= u64::from_le_bytes(PERSON[8..].try_into().unwrap());
    let length = agent.len() + 1 + token.len();
    let byte = |at: usize| -> u8 {
        if at < agent.len() {
            agent[at]
        } else if at == agent.len() {
            0
        } else {
            token[at - agent.len() - 1]
        }
    };
    let mut block = [0u8; 128];
    let mut done = 0usize;
    // Every block but the last is full; the last (maybe empty: never here, NUL is always in) is
    // padded with zeros and flagged.
    while length - done > 128 {
        for (at, slot) in block.iter_mut().enumerate() {
            *slot = byte(done + at);
        }
        done += 128;
        compress(&mut h, &block, done as u128, false);
    }
    block = [0u8; 128];
    if done == 0 && length <= 128 && agent.len() < 128 {
        // the usual case: copy the pieces at once
        block[..agent.len()].copy_from_slice(agent);
        block[agent.len() + 1..length].copy_from_slice(token);
    } else {
        for (at, slot) in block.iter_mut().enumerate().take(length - done) {
            *slot = byte(done + at);
        }
    }
    compress(&mut h, &block, length as u128, true);
    h[0] as i64
}
