//! A Python string as the scans read it: its characters in the storage Python keeps them in
//! (1, 2 or 4 bytes each), so an index here is an index into the Python string.

use crate::chars::is_digit;

pub struct Text<'a, T> {
    pub chars: &'a [T],
}

impl<'a, T: Copy + Into<u32>> Text<'a, T> {
    pub fn new(chars: &'a [T]) -> Self {
        Text { chars }
    }

    /// The character at `i`, if the text goes that far.
    #[inline]
    pub fn at(&self, i: usize) -> Option<u32> {
        self.chars.get(i).map(|&c| c.into())
    }

    #[inline]
    pub fn is(&self, i: usize, c: char) -> bool {
        self.at(i) == Some(c as u32)
    }

    /// The number of digits (`\d`) from `i` on.
    #[inline]
    pub fn digits(&self, i: usize) -> usize {
        let mut end = i;
        while matches!(self.at(end), Some(c) if is_digit(c)) {
            end += 1;
        }
        end - i
    }

    /// The first `target` from `from` on, else the text's length: 32 characters compared at a
    /// time (the compiler makes one vector test of them), as `re` skips to a literal first character.
    #[inline]
    pub fn find(&self, from: usize, target: u32) -> usize {
        let rest = &self.chars[from..];
        let mut base = 0;
        for chunk in rest.chunks_exact(32) {
            if chunk
                .iter()
                .fold(false, |any, &c| any | (c.into() == target))
            {
                break;
            }
            base += 32;
        }
        rest[base..]
            .iter()
            .position(|&c| c.into() == target)
            .map_or(self.chars.len(), |i| from + base + i)
    }
}

/// A finder's own type over a `Text` (its methods, named after its pattern's parts, stay its own),
/// reading the text through `Deref`: `scanner!(Runs);`.
macro_rules! scanner {
    ($name:ident) => {
        pub struct $name<'a, T>(pub crate::text::Text<'a, T>);

        impl<'a, T> std::ops::Deref for $name<'a, T> {
            type Target = crate::text::Text<'a, T>;

            fn deref(&self) -> &crate::text::Text<'a, T> {
                &self.0
            }
        }
    };
}
pub(crate) use scanner;
