//! Character classes as Python's `re` sees them in str patterns (see tables.rs).

use crate::tables::{DIGIT, WORD};

fn in_table(table: &[(u32, u32)], c: u32) -> bool {
    table
        .binary_search_by(|&(low, high)| {
            if high < c {
                std::cmp::Ordering::Less
            } else if low > c {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

/// `\d`: a decimal digit of any script.
#[inline]
pub fn is_digit(c: u32) -> bool {
    if c < 0x80 {
        (b'0' as u32..=b'9' as u32).contains(&c)
    } else {
        c >= 0x660 && in_table(&DIGIT, c)
    }
}

/// `\w`: a letter or number of any script, or '_'.
#[inline]
pub fn is_word(c: u32) -> bool {
    if c < 0x80 {
        let b = c as u8;
        b.is_ascii_alphanumeric() || b == b'_'
    } else {
        in_table(&WORD, c)
    }
}
