//! The secrets finder: `secrets(text)` of broker/pii/recognizers_secret.py in one native pass,
//! worked out as its patterns (`re`) and its Python work them out, in the same order: tokens
//! near each prefix's last character, PEM blocks, `Bearer`/`Basic`/`Token` credentials, URL
//! passwords, then `<name> : value` and `<name> = value` assignments.
//!
//! Every pattern here matches in one way or none (each count is followed by a character it does
//! not take, or is exact), except `sk-`'s optional group, `ant-[a-z]{3,5}` and the PEM lines'
//! `[A-Z ]{0,20}PRIVATE KEY`, whose choices are tried in `re`'s order. Under `(?i)` the class
//! `[a-z0-9_.-]` also holds U+0130 and U+0131 (for 'i'), U+017F ('s') and U+212A ('k'): names
//! are folded so. A value whose verdict needs Unicode's letter cases (`_looks_random`,
//! `isalpha`/`islower` of a value holding a character beyond ASCII) comes back with the check
//! Python must make (`CHECK_*`); every other verdict is final. tests/pii/test_native_secrets.py
//! holds the two to the same findings.

use crate::chars::{is_digit, is_space, is_word};

crate::text::scanner!(Secrets);

/// A finding: start, end, score, and the check Python still makes on `text[start:end]`.
pub type Secret = (usize, usize, f64, u8);

/// Final: no check left.
pub const CHECK_NONE: u8 = 0;
/// `_looks_random(value, 12)`.
pub const CHECK_RANDOM_12: u8 = 1;
/// `_looks_random(value[3:], 20)` (an `sk-` key).
pub const CHECK_RANDOM_AFTER_3: u8 = 2;
/// `_looks_random(value, 16)`.
pub const CHECK_RANDOM_16: u8 = 3;
/// `not (value.isalpha() and value.islower())` (a password's value in prose).
pub const CHECK_NOT_LOWER_WORD: u8 = 4;

const AWS: [&str; 11] = [
    "AKIA", "ASIA", "ABIA", "ACCA", "AGPA", "AIDA", "AROA", "AIPA", "ANPA", "ANVA", "APKA",
];
/// The token prefixes ending in '_' (`_TOKEN_PREFIXES`), each anchoring the token search at its end.
const UNDERSCORED: [&str; 12] = [
    "ghp_",
    "gho_",
    "ghu_",
    "ghs_",
    "ghr_",
    "github_pat_",
    "sk_",
    "rk_",
    "whsec_",
    "npm_",
    "hf_",
    "tbk_",
];
const HYPHENATED: [&str; 3] = ["xapp-", "sk-", "glpat-"];
const DOTTED: [&str; 3] = ["ya29.", "SG.", "hooks."];
const AUTH_WORDS: [&str; 6] = ["earer", "EARER", "asic", "ASIC", "oken", "OKEN"];
/// The ASCII characters `literals` looks at.
const NOTED: [bool; 128] = {
    let mut noted = [false; 128];
    let characters = b"_-.JzABbTt:P";
    let mut at = 0;
    while at < characters.len() {
        noted[characters[at] as usize] = true;
        at += 1;
    }
    noted
};
const NAME_ENDINGS: [&[u8]; 11] = [
    b"key", b"pwd", b"ret", b"ken", b"swd", b"ord", b"ase", b"ial", b"als", b"uth", b"ass",
];
/// `_NAME`'s credential words, folded.
const NAME_WORDS: [&[u8]; 11] = [
    b"key",
    b"pwd",
    b"secret",
    b"token",
    b"passwd",
    b"password",
    b"passphrase",
    b"credential",
    b"credentials",
    b"auth",
    b"pass",
];
const PLACEHOLDERS: [&[u8]; 8] = [
    b"null",
    b"none",
    b"true",
    b"false",
    b"undefined",
    b"redacted",
    b"changeme",
    b"",
];
const LONGEST_PREFIX: usize = "https://hooks.".len();
const PEM_MAX_BODY: usize = 16_000;
const SLACK_HOOK: &str = "https://hooks.slack.com/services/T";

#[inline]
fn ascii(c: u32, test: fn(&u8) -> bool) -> bool {
    c < 0x80 && test(&(c as u8))
}

/// `[A-Za-z0-9]`.
#[inline]
fn alnum(c: u32) -> bool {
    ascii(c, u8::is_ascii_alphanumeric)
}

/// `[A-Za-z0-9_-]`.
#[inline]
fn token_char(c: u32) -> bool {
    alnum(c) || c == '_' as u32 || c == '-' as u32
}

/// `[A-Z0-9]`.
#[inline]
fn upper_or_digit(c: u32) -> bool {
    ascii(c, u8::is_ascii_uppercase) || ascii(c, u8::is_ascii_digit)
}

/// `[^\s:@/\x00]`: a URL's user name.
#[inline]
fn url_user(c: u32) -> bool {
    !(is_space(c) || c == ':' as u32 || c == '@' as u32 || c == '/' as u32 || c == 0)
}

/// `[^\s@/\x00]`: a URL's password.
#[inline]
fn url_password(c: u32) -> bool {
    c == ':' as u32 || url_user(c)
}

/// `[^\s\"'<>,;&()\[\]{}\x00=]`: an assigned value.
#[inline]
fn value_char(c: u32) -> bool {
    !(is_space(c) || c < 0x80 && b"\"'<>,;&()[]{}\x00=".contains(&(c as u8)))
}

/// `[ \t]`.
#[inline]
fn blank(c: u32) -> bool {
    c == ' ' as u32 || c == '\t' as u32
}

/// A character of `(?i)[a-z0-9_.-]` folded to the ASCII one `re` takes it for, else None.
#[inline]
fn name_fold(c: u32) -> Option<u8> {
    match c {
        0x130 | 0x131 => Some(b'i'),
        0x17f => Some(b's'),
        0x212a => Some(b'k'),
        _ if c < 0x80 => {
            let b = (c as u8).to_ascii_lowercase();
            (b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-').then_some(b)
        }
        _ => None,
    }
}

/// `_looks_random(value, least)` on ASCII characters: long enough, at least two of lower, upper
/// and digit, and over 3 bits of entropy per character, summed as Python 3.11's `sum` does (in
/// order of each character's first occurrence, as `Counter` holds them; no compensation).
fn looks_random(value: &[u8], least: usize) -> bool {
    if value.len() < least {
        return false;
    }
    let lower = value.iter().any(u8::is_ascii_lowercase) as u8;
    let upper = value.iter().any(u8::is_ascii_uppercase) as u8;
    let digit = value.iter().any(u8::is_ascii_digit) as u8;
    if lower + upper + digit < 2 {
        return false;
    }
    let mut counts = [0usize; 128];
    let mut order = Vec::with_capacity(64);
    for &b in value {
        if counts[b as usize] == 0 {
            order.push(b);
        }
        counts[b as usize] += 1;
    }
    let length = value.len() as f64;
    let mut sum = 0.0f64;
    for b in order {
        let share = counts[b as usize] as f64 / length;
        sum += share * share.log2();
    }
    -sum > 3.0
}

impl<'a, T: Copy + Into<u32>> Secrets<'a, T> {
    /// The character at `i` satisfies `test`.
    #[inline]
    fn has(&self, i: usize, test: impl Fn(u32) -> bool) -> bool {
        matches!(self.at(i), Some(c) if test(c))
    }

    /// The ASCII `literal` at `i`.
    #[inline]
    fn lit(&self, i: usize, literal: &str) -> bool {
        i + literal.len() <= self.chars.len()
            && literal
                .bytes()
                .enumerate()
                .all(|(k, b)| self.chars[i + k].into() == b as u32)
    }

    /// How many characters from `i` on satisfy `test`, at most `most`.
    #[inline]
    fn run(&self, i: usize, most: usize, test: impl Fn(u32) -> bool) -> usize {
        let mut end = i;
        while end - i < most && self.has(end, &test) {
            end += 1;
        }
        end - i
    }

    /// `[\w-]` at `i`.
    #[inline]
    fn word_or_hyphen(&self, i: usize) -> bool {
        self.has(i, |c| c == '-' as u32 || is_word(c))
    }

    /// `text[start:end]` as ASCII bytes, or None when it holds another character.
    fn ascii_slice(&self, start: usize, end: usize) -> Option<Vec<u8>> {
        self.chars[start..end]
            .iter()
            .map(|&c| {
                let c: u32 = c.into();
                (c < 0x80).then_some(c as u8)
            })
            .collect()
    }

    /// The findings, in the order `secrets` appends them.
    pub fn secrets(&self) -> Vec<Secret> {
        let mut out = Vec::new();
        let (anchors, auth_starts, url, pem) = self.literals();
        if !anchors.is_empty() {
            self.tokens(&anchors, &mut out);
        }
        if pem {
            self.pems(&mut out);
        }
        self.auth(&auth_starts, &mut out);
        if url {
            self.url_passwords(&mut out);
        }
        self.colons(&mut out);
        self.equals(&mut out);
        out
    }

    /// `_LITERALS`' one pass: the last character of each token prefix found, the start of each
    /// auth word, and whether '://' and 'PRIVATE KEY' occur.
    fn literals(&self) -> (Vec<usize>, Vec<usize>, bool, bool) {
        let (mut anchors, mut auth) = (Vec::new(), Vec::new());
        let (mut url, mut pem) = (false, false);
        for (i, &c) in self.chars.iter().enumerate() {
            let c: u32 = c.into();
            if c >= 0x80 || !NOTED[c as usize] {
                continue; // (one well-predicted branch, where the match's jump was mostly not)
            }
            let anchor = match c as u8 {
                b'_' => UNDERSCORED.iter().any(|p| self.ends(i, p)),
                b'-' => {
                    HYPHENATED.iter().any(|p| self.ends(i, p))
                        || (i >= 4
                            && self.lit(i - 4, "xox")
                            && self.has(i - 1, |l| ascii(l, u8::is_ascii_lowercase)))
                }
                b'.' => DOTTED.iter().any(|p| self.ends(i, p)),
                b'J' => self.ends(i, "eyJ"),
                b'z' => self.ends(i, "AIz"),
                b'A' => AWS.iter().any(|p| self.ends(i, p)),
                b'B' | b'b' | b'T' | b't' => {
                    if AUTH_WORDS.iter().any(|w| self.lit(i + 1, w)) {
                        auth.push(i);
                    }
                    false
                }
                b':' => {
                    url = url || self.lit(i, "://");
                    false
                }
                b'P' => {
                    pem = pem || self.lit(i, "PRIVATE KEY");
                    false
                }
                _ => false,
            };
            if anchor {
                anchors.push(i);
            }
        }
        (anchors, auth, url, pem)
    }

    /// `prefix` ends at `i` (its last character is there).
    #[inline]
    fn ends(&self, i: usize, prefix: &str) -> bool {
        i + 1 >= prefix.len() && self.lit(i + 1 - prefix.len(), prefix)
    }

    /// `_find_tokens`: from each anchor not inside the last token, the first start before it
    /// (`_TOKEN_START`) where `_TOKENS` matches past it.
    fn tokens(&self, anchors: &[usize], out: &mut Vec<Secret>) {
        let mut done = 0;
        for &anchor in anchors {
            if anchor < done {
                continue;
            }
            let low = done.max(anchor.saturating_sub(LONGEST_PREFIX));
            let found = (low..=anchor).find_map(|start| {
                let first = self.at(start)?;
                if !(first < 0x80 && b"AgxsrwynhSte".contains(&(first as u8)))
                    || (start > 0 && self.word_or_hyphen(start - 1))
                {
                    return None;
                }
                self.token(start)
                    .filter(|&end| end > anchor)
                    .map(|end| (start, end))
            });
            let Some((start, end)) = found else { continue };
            done = end;
            if (start > 0 && self.word_or_hyphen(start - 1)) || self.word_or_hyphen(end) {
                continue; // part of a longer identifier
            }
            let mut check = CHECK_NONE;
            if self.lit(start, "sk-") {
                match self.ascii_slice(start + 3, end) {
                    Some(rest) if !looks_random(&rest, 20) => continue,
                    Some(_) => {}
                    None => check = CHECK_RANDOM_AFTER_3,
                }
            }
            out.push((start, end, 0.95, check));
        }
    }

    /// The end of `_TOKENS`' match at `s`: its alternatives in order, the first that matches.
    fn token(&self, s: usize) -> Option<usize> {
        let exact = |from: usize, count: usize, test: fn(u32) -> bool| {
            (self.run(from, count, test) == count).then_some(from + count)
        };
        let between = |from: usize, least: usize, most: usize, test: fn(u32) -> bool| {
            let n = self.run(from, most, test);
            (n >= least).then_some(from + n)
        };
        let alnum_dash = |c| alnum(c) || c == '-' as u32;
        if AWS.iter().any(|p| self.lit(s, p)) {
            if let Some(end) = exact(s + 4, 16, upper_or_digit) {
                return Some(end);
            }
        }
        if self.lit(s, "gh")
            && self.has(s + 2, |c| "pousr".chars().any(|k| k as u32 == c))
            && self.lit(s + 3, "_")
        {
            if let Some(end) = between(s + 4, 36, 251, alnum) {
                return Some(end);
            }
        }
        if self.lit(s, "github_pat_") {
            if let Some(end) = between(s + 11, 22, 255, |c| alnum(c) || c == '_' as u32) {
                return Some(end);
            }
        }
        if self.lit(s, "xox")
            && self.has(s + 3, |c| "abposre".chars().any(|k| k as u32 == c))
            && self.lit(s + 4, "-")
        {
            if let Some(end) = between(s + 5, 10, 250, alnum_dash) {
                return Some(end);
            }
        }
        if self.lit(s, "xapp-") && self.has(s + 5, is_digit) && self.lit(s + 6, "-") {
            if let Some(end) = between(s + 7, 10, 250, alnum_dash) {
                return Some(end);
            }
        }
        if (self.lit(s, "sk_") || self.lit(s, "rk_"))
            && (self.lit(s + 3, "live_") || self.lit(s + 3, "test_"))
        {
            if let Some(end) = between(s + 8, 10, 247, alnum) {
                return Some(end);
            }
        }
        if self.lit(s, "whsec_") {
            let whsec = |c| alnum(c) || c == '+' as u32 || c == '/' as u32 || c == '=' as u32;
            if let Some(end) = between(s + 6, 24, usize::MAX, whsec) {
                return Some(end);
            }
        }
        if self.lit(s, "sk-") {
            if let Some(end) = self.openai(s + 3) {
                return Some(end);
            }
        }
        if self.lit(s, "AIza") {
            if let Some(end) = exact(s + 4, 35, token_char) {
                return Some(end);
            }
        }
        if self.lit(s, "ya29.") {
            if let Some(end) = between(s + 5, 20, usize::MAX, token_char) {
                return Some(end);
            }
        }
        if self.lit(s, "glpat-") {
            if let Some(end) = exact(s + 6, 20, token_char) {
                return Some(end);
            }
        }
        if self.lit(s, "npm_") {
            if let Some(end) = exact(s + 4, 36, alnum) {
                return Some(end);
            }
        }
        if self.lit(s, "hf_") {
            if let Some(end) = exact(s + 3, 34, alnum) {
                return Some(end);
            }
        }
        if self.lit(s, "SG.") {
            let end = exact(s + 3, 22, token_char)
                .filter(|&dot| self.lit(dot, "."))
                .and_then(|dot| exact(dot + 1, 43, token_char));
            if end.is_some() {
                return end;
            }
        }
        if self.lit(s, "tbk_") {
            if let Some(end) = exact(s + 4, 40, alnum) {
                return Some(end);
            }
        }
        if self.lit(s, "eyJ") {
            let end = between(s + 3, 8, usize::MAX, token_char)
                .filter(|&dot| self.lit(dot, ".eyJ"))
                .and_then(|dot| between(dot + 4, 8, usize::MAX, token_char))
                .filter(|&dot| self.lit(dot, "."))
                .map(|dot| dot + 1 + self.run(dot + 1, usize::MAX, token_char));
            if end.is_some() {
                return end;
            }
        }
        if self.lit(s, SLACK_HOOK) {
            return between(s + SLACK_HOOK.len(), 1, usize::MAX, alnum)
                .filter(|&slash| self.lit(slash, "/B"))
                .and_then(|slash| between(slash + 2, 1, usize::MAX, alnum))
                .filter(|&slash| self.lit(slash, "/"))
                .and_then(|slash| between(slash + 1, 1, usize::MAX, alnum));
        }
        None
    }

    /// `(?:proj-|svcacct-|admin-|ant-[a-z]{3,5}\d\d-)?[A-Za-z0-9_-]{20,250}` at `p` (after
    /// `sk-`): the group when the rest then matches, else the rest alone.
    fn openai(&self, p: usize) -> Option<usize> {
        let rest = |from: usize| {
            let n = self.run(from, 250, token_char);
            (n >= 20).then_some(from + n)
        };
        let group = if self.lit(p, "proj-") {
            Some(p + 5)
        } else if self.lit(p, "svcacct-") {
            Some(p + 8)
        } else if self.lit(p, "admin-") {
            Some(p + 6)
        } else if self.lit(p, "ant-") {
            let letters = self.run(p + 4, 5, |c| ascii(c, u8::is_ascii_lowercase));
            (3..=letters).rev().find_map(|k| {
                let q = p + 4 + k;
                (self.has(q, is_digit) && self.has(q + 1, is_digit) && self.lit(q + 2, "-"))
                    .then_some(q + 3)
            })
        } else {
            None
        };
        group.and_then(rest).or_else(|| rest(p))
    }

    /// `-----<word>[A-Z ]{0,20}PRIVATE KEY(?: BLOCK)?-----` at `s`: its end. The class's count is
    /// given back one at a time (from the most it takes) until 'PRIVATE KEY' and the rest follow.
    fn pem_line(&self, s: usize, word: &str) -> Option<usize> {
        if !self.lit(s, "-----") || !self.lit(s + 5, word) {
            return None;
        }
        let p = s + 5 + word.len();
        let most = self.run(p, 20, |c| {
            ascii(c, u8::is_ascii_uppercase) || c == ' ' as u32
        });
        (0..=most).rev().find_map(|k| {
            let q = p + k + "PRIVATE KEY".len();
            if !self.lit(p + k, "PRIVATE KEY") {
                None
            } else if self.lit(q, " BLOCK-----") {
                Some(q + " BLOCK-----".len())
            } else if self.lit(q, "-----") {
                Some(q + 5)
            } else {
                None
            }
        })
    }

    /// The first PEM line of `word` from `from` on: its start and end.
    fn pem_search(&self, from: usize, word: &str) -> Option<(usize, usize)> {
        let mut s = from;
        while s < self.chars.len() {
            s = self.find(s, '-' as u32);
            if let Some(end) = self.pem_line(s, word) {
                return Some((s, end));
            }
            s += 1;
        }
        None
    }

    /// `_find_pems`.
    fn pems(&self, out: &mut Vec<Secret>) {
        let mut position = 0;
        let mut end_line: Option<(usize, usize)> = None;
        while let Some((begin_start, begin_end)) = self.pem_search(position, "BEGIN") {
            if end_line.is_none_or(|(start, _)| start < begin_end) {
                end_line = self.pem_search(begin_end, "END");
            }
            let Some((end_start, end_end)) = end_line else {
                return;
            };
            let body = &self.chars[begin_end..end_start];
            if body.len() <= PEM_MAX_BODY && !body.iter().any(|&c| c.into() == 0) {
                out.push((begin_start, end_end, 0.95, CHECK_NONE));
                position = end_end;
            } else {
                position = begin_end;
            }
        }
    }

    /// `_AUTH.match` at `s`: its credential's span and the match's end.
    fn auth_match(&self, s: usize) -> Option<(usize, usize)> {
        let word = AUTH_WORDS.iter().find(|w| self.lit(s + 1, w))?;
        let p = s + 1 + word.len();
        let blanks = self.run(p, usize::MAX, blank);
        if blanks == 0 {
            return None;
        }
        let start = p + blanks;
        let n = self.run(start, usize::MAX, |c| {
            alnum(c) || c < 0x80 && b"-._~+/".contains(&(c as u8))
        });
        if n < 12 {
            return None;
        }
        let end = start + n + self.run(start + n, usize::MAX, |c| c == '=' as u32);
        Some((start, end))
    }

    /// `_auth_matches` and what `secrets` keeps of them.
    fn auth(&self, starts: &[usize], out: &mut Vec<Secret>) {
        let mut done = 0;
        for &start in starts {
            if start < done {
                continue;
            }
            let Some((value_start, end)) = self.auth_match(start) else {
                continue;
            };
            done = end;
            if start > 0 && self.word_or_hyphen(start - 1) {
                continue;
            }
            match self.ascii_slice(value_start, end) {
                Some(value) if !looks_random(&value, 12) => {}
                Some(_) => out.push((value_start, end, 0.9, CHECK_NONE)),
                None => out.push((value_start, end, 0.9, CHECK_RANDOM_12)),
            }
        }
    }

    /// `_URL_PASSWORD.finditer`: `://([^\s:@/\x00]{1,64}):([^\s@/\x00]{1,128})@`, the password.
    fn url_passwords(&self, out: &mut Vec<Secret>) {
        let length = self.chars.len();
        let mut s = 0;
        while s < length {
            s = self.find(s, ':' as u32);
            if s >= length {
                break;
            }
            if self.lit(s, "://") {
                let user = self.run(s + 3, 65, url_user);
                let colon = s + 3 + user;
                if (1..=64).contains(&user) && self.lit(colon, ":") {
                    let password = self.run(colon + 1, 129, url_password);
                    let at = colon + 1 + password;
                    if (1..=128).contains(&password) && self.lit(at, "@") {
                        out.push((colon + 1, at, 0.9, CHECK_NONE));
                        s = at + 1;
                        continue;
                    }
                }
            }
            s += 1;
        }
    }

    /// `_COLON.finditer` (`:=?(?![\d/])`), each match's assignment.
    fn colons(&self, out: &mut Vec<Secret>) {
        let length = self.chars.len();
        let free = |i: usize| !self.has(i, |c| c == '/' as u32 || is_digit(c));
        let mut i = 0;
        while i < length {
            i = self.find(i, ':' as u32);
            if i >= length {
                break;
            }
            let end = if self.lit(i + 1, "=") && free(i + 2) {
                i + 2
            } else if free(i + 1) {
                i + 1
            } else {
                i += 1;
                continue;
            };
            out.extend(self.assigned(i, end, end == i + 1));
            i = end;
        }
    }

    /// `_EQUALS.finditer` (`=>?`), each match's assignment.
    fn equals(&self, out: &mut Vec<Secret>) {
        let length = self.chars.len();
        let mut i = 0;
        while i < length {
            i = self.find(i, '=' as u32);
            if i >= length {
                break;
            }
            let end = if self.lit(i + 1, ">") { i + 2 } else { i + 1 };
            out.extend(self.assigned(i, end, false));
            i = end;
        }
    }

    /// `_assigned_secret`: the operator spans `op_start..op_end` (`bare_colon`: it is ':' alone).
    fn assigned(&self, op_start: usize, op_end: usize, bare_colon: bool) -> Option<Secret> {
        let low = op_start.saturating_sub(48);
        if !self.name_ending(low, op_start) {
            return None;
        }
        let (name, name_quoted) = self.name(low, op_start)?;
        let (value_start, value_end, value_quoted) = self.value(op_end)?;
        let value = &self.chars[value_start..value_end];
        if value.iter().any(|&c| c.into() == '=' as u32)
            || value.windows(3).any(|w| {
                w[0].into() == ':' as u32 && w[1].into() == '/' as u32 && w[2].into() == '/' as u32
            })
        {
            return None; // a URL or a nested assignment: their own rules find the secret inside
        }
        let plain = self.ascii_slice(value_start, value_end);
        if let Some(plain) = &plain {
            let lower = plain.to_ascii_lowercase();
            let mut stripped: &[u8] = &lower;
            while let [b'*' | b'x' | b'.', rest @ ..] = stripped {
                stripped = rest;
            }
            while let [rest @ .., b'*' | b'x' | b'.'] = stripped {
                stripped = rest;
            }
            if PLACEHOLDERS.contains(&stripped) || PLACEHOLDERS.contains(&&lower[..]) {
                return None;
            }
        } // (beyond ASCII, lower() never gives a placeholder: only U+212A becomes ASCII, a 'k')
        let check = if password_name(&name) {
            let config = name_quoted || value_quoted || !bare_colon;
            match &plain {
                _ if config => CHECK_NONE,
                Some(plain) if plain.iter().all(u8::is_ascii_lowercase) => return None,
                Some(_) => CHECK_NONE,
                None => CHECK_NOT_LOWER_WORD,
            }
        } else {
            match &plain {
                Some(plain) if !looks_random(plain, 16) => return None,
                Some(_) => CHECK_NONE,
                None => CHECK_RANDOM_16,
            }
        };
        Some((value_start, value_end, 0.8, check))
    }

    /// `window.rstrip(" \t\"'")[-3:].lower().endswith(_NAME_ENDINGS)`, the window `low..end`.
    fn name_ending(&self, low: usize, end: usize) -> bool {
        let mut e = end;
        while e > low && self.has(e - 1, |c| blank(c) || c == '"' as u32 || c == '\'' as u32) {
            e -= 1;
        }
        let mut lowered = [0u32; 6];
        let mut n = 0;
        for i in e.saturating_sub(3).max(low)..e {
            let c = self.chars[i].into();
            match c {
                0x212a => lowered[n] = 'k' as u32,
                0x130 => {
                    lowered[n] = 'i' as u32;
                    n += 1;
                    lowered[n] = 0x307;
                }
                _ if c < 0x80 => lowered[n] = (c as u8).to_ascii_lowercase() as u32,
                _ => lowered[n] = u32::MAX, // its lower case is no ASCII letter
            }
            n += 1;
        }
        n >= 3
            && NAME_ENDINGS.iter().any(|ending| {
                ending
                    .iter()
                    .zip(&lowered[n - 3..n])
                    .all(|(&b, &c)| b as u32 == c)
            })
    }

    /// `_NAME.search(window)` (`low..end`): the name, folded, and whether a quote follows it.
    /// The name is the whole run of `[a-z0-9_.-]` before `["']?[ \t]{0,3}` at the window's end.
    fn name(&self, low: usize, end: usize) -> Option<(Vec<u8>, bool)> {
        let blanks = (0..end - low)
            .take_while(|&k| self.has(end - 1 - k, blank))
            .count();
        if blanks > 3 {
            return None;
        }
        let mut e = end - blanks;
        let quoted = e > low && self.has(e - 1, |c| c == '"' as u32 || c == '\'' as u32);
        if quoted {
            e -= 1;
        }
        let mut start = e;
        while start > low && self.at(start - 1).and_then(name_fold).is_some() {
            start -= 1;
        }
        let name: Vec<u8> = (start..e)
            .filter_map(|i| self.at(i).and_then(name_fold))
            .collect();
        let named = NAME_WORDS
            .iter()
            .any(|word| name.ends_with(word) && name.len() - word.len() <= 40);
        named.then_some((name, quoted))
    }

    /// `_VALUE.match(text, at)`: the value's span and whether a quote opens it.
    fn value(&self, at: usize) -> Option<(usize, usize, bool)> {
        let blanks = self.run(at, 4, blank);
        if blanks > 3 {
            return None;
        }
        let mut start = at + blanks;
        let quoted = self.has(start, |c| c == '"' as u32 || c == '\'' as u32);
        if quoted {
            start += 1;
        }
        let n = self.run(start, 512, value_char);
        if n < 4 {
            return None;
        }
        let end = start + n + self.run(start + n, 2, |c| c == '=' as u32);
        Some((start, end, quoted))
    }
}

/// `_PASSWORD_NAME.search(name)` on a folded name:
/// `(?:(?:^|[_.-])(?:pass|pwd)|passw(?:or)?d|passphrase)$`.
fn password_name(name: &[u8]) -> bool {
    for word in [&b"pass"[..], b"pwd"] {
        if let Some(before) = name.strip_suffix(word) {
            if matches!(before.last(), None | Some(b'_' | b'.' | b'-')) {
                return true;
            }
        }
    }
    [&b"passwd"[..], b"password", b"passphrase"]
        .iter()
        .any(|word| name.ends_with(word))
}
