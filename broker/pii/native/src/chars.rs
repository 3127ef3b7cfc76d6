//! Character classes as Python's `re` sees them in str patterns (see tables.rs).

use crate::tables::{DIGIT, SPACE, WORD};

/// The range of `table` holding `c`, if one does.
fn range_of(table: &[(u32, u32)], c: u32) -> Option<(u32, u32)> {
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
        .ok()
        .map(|i| table[i])
}

fn in_table(table: &[(u32, u32)], c: u32) -> bool {
    range_of(table, c).is_some()
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

/// The value of a `\d` character (what Python's `int` reads it as), else None. Each script's
/// digits run 0 to 9 in a row, and the rows of a range follow one another (tests/pii check this).
#[inline]
pub fn digit_value(c: u32) -> Option<u32> {
    if c < 0x80 {
        c.checked_sub(b'0' as u32).filter(|&v| v <= 9)
    } else {
        range_of(&DIGIT, c).map(|(low, _)| (c - low) % 10)
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

/// `\s`: white space of any script (str.isspace; in ASCII also the separators U+001C to U+001F).
#[inline]
pub fn is_space(c: u32) -> bool {
    if c < 0x80 {
        (0x09..=0x0d).contains(&c) || (0x1c..=0x20).contains(&c)
    } else {
        in_table(&SPACE, c)
    }
}
