//! A small, strict JSON object reader and writer for the claims this crate signs and checks.
//!
//! Claims and JOSE headers are read without building a document: [`members`] checks that the
//! text is exactly one JSON object (RFC 8259 grammar, as strict as `serde_json`: no trailing
//! commas, no control characters or lone surrogates in strings, nesting at most 127 deep) and
//! returns its top-level members with their values as raw JSON text, sorted by name. Member
//! names are compared after unescaping and must be unique. [`Object`] edits the top level of an
//! object (the times `sign` sets) and writes it back with the members sorted by name, as
//! `serde_json`'s map writes them, so tokens signed from JavaScript and from Rust agree.
//!
//! The JavaScript face never needs more, and this keeps `serde_json` out of its WebAssembly.

use std::borrow::Cow;

/// Why [`members`] refused its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ObjectError {
    /// Not one JSON object, or not valid JSON.
    NotObject,
    /// A member name appears twice at the top level.
    Duplicate,
    /// A string holds a lone surrogate (`"\ud83d"`: half of a UTF-16 pair, as JavaScript's
    /// `JSON.stringify` writes a string cut inside an emoji): not text.
    LoneSurrogate,
    /// Arrays and objects nested more than [`MAX_DEPTH`] deep (the object itself the first).
    TooDeep,
}

impl ObjectError {
    /// The message of a `malformed` error about `what` (`"header"` or `"claims"`).
    pub(crate) fn message(self, what: &'static str) -> &'static str {
        match (self, what) {
            (ObjectError::Duplicate, "header") => "duplicate header field",
            (ObjectError::Duplicate, _) => "duplicate claim name",
            (ObjectError::NotObject, "header") => "header is not a JSON object",
            (ObjectError::NotObject, _) => "claims are not a JSON object",
            (ObjectError::LoneSurrogate, "header") => "header holds a lone surrogate",
            (ObjectError::TooDeep, "header") => "header is nested more than 127 levels deep",
            (ObjectError::TooDeep, _) => "claims are nested more than 127 levels deep",
            (ObjectError::LoneSurrogate, _) => {
                "claims hold a lone surrogate (half of a UTF-16 pair, as a string cut inside an emoji)"
            }
        }
    }
}

/// A top-level member: its unescaped name and its value as raw JSON text.
pub(crate) type Member<'a> = (Cow<'a, str>, &'a str);

/// Deepest nesting of arrays and objects accepted, the outer object included (as in
/// `serde_json`).
const MAX_DEPTH: usize = 127;

/// Reads `json`, one JSON object with nothing around it but whitespace, and returns its
/// members sorted by name. Parsers that keep the first of two equal names and those that keep
/// the last would disagree on what was signed, so a repeated name is refused.
pub(crate) fn members(json: &str) -> Result<Vec<Member<'_>>, ObjectError> {
    let mut p = Parser::new(json);
    p.space();
    if !p.eat(b'{') {
        return Err(ObjectError::NotObject);
    }
    let mut out: Vec<Member<'_>> = Vec::with_capacity(8);
    p.space();
    if !p.eat(b'}') {
        loop {
            p.space();
            let name = p.string().ok_or_else(|| p.refusal())?;
            p.space();
            if !p.eat(b':') {
                return Err(ObjectError::NotObject);
            }
            p.space();
            let start = p.at;
            // The object itself is the first level of nesting.
            p.value(1).ok_or_else(|| p.refusal())?;
            let value = json.get(start..p.at).ok_or(ObjectError::NotObject)?;
            out.push((name, value));
            p.space();
            if p.eat(b'}') {
                break;
            }
            if !p.eat(b',') {
                return Err(ObjectError::NotObject);
            }
        }
    }
    p.space();
    if p.at != json.len() {
        return Err(ObjectError::NotObject);
    }
    // Sorted once: O(n log n) in any order of names (kept sorted name by name, a JWT header
    // of many names in descending order, read before its signature is checked, took seconds).
    if !out.is_sorted_by(|(a, _), (b, _)| a <= b) {
        out = std::collections::BinaryHeap::from(out).into_sorted_vec();
    }
    if out
        .windows(2)
        .any(|w| matches!(w, [(a, _), (b, _)] if a == b))
    {
        return Err(ObjectError::Duplicate);
    }
    Ok(out)
}

/// The value of `name` among `members` (as [`members`] returns them).
// One copy: inlined at each of its many call sites it adds 1 KB to the wasm.
#[inline(never)]
pub(crate) fn get<'a>(members: &[Member<'a>], name: &str) -> Option<&'a str> {
    let i = members
        .binary_search_by(|(n, _)| n.as_ref().cmp(name))
        .ok()?;
    members.get(i).map(|&(_, value)| value)
}

/// The text of a JSON string value (raw JSON text from [`members`]), unescaped; `None` for
/// any other value.
pub(crate) fn string(value: &str) -> Option<Cow<'_, str>> {
    let mut p = Parser::new(value);
    p.string().filter(|_| p.at == value.len())
}

/// The strings of a JSON array of strings; `None` for any other value.
pub(crate) fn strings(value: &str) -> Option<Vec<Cow<'_, str>>> {
    let mut p = Parser::new(value);
    let mut out = Vec::new();
    p.eat(b'[').then_some(())?;
    p.space();
    if p.eat(b']') {
        return Some(out);
    }
    loop {
        p.space();
        out.push(p.string()?);
        p.space();
        if p.eat(b']') {
            return Some(out);
        }
        p.eat(b',').then_some(())?;
    }
}

/// The text of a JSON string value, owned ([`string`]).
#[cfg(feature = "sealed")] // the stores' and the gateway's readers
pub(crate) fn owned_string(value: &str) -> Option<String> {
    string(value).map(Cow::into_owned)
}

/// The strings of a JSON array of strings, owned ([`strings`]).
#[cfg(feature = "sealed")] // the stores' and the gateway's readers
pub(crate) fn owned_strings(value: &str) -> Option<Vec<String>> {
    Some(strings(value)?.into_iter().map(Cow::into_owned).collect())
}

/// A JSON `true` or `false` (raw JSON text from [`members`]).
#[cfg(feature = "sealed")] // the stores' and the gateway's readers
pub(crate) fn boolean(value: &str) -> Option<bool> {
    match value {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

/// A JSON number (raw JSON text from [`members`]) as serde reads a `u64`: digits only (no
/// sign, fraction or exponent), at most `u64::MAX`.
pub(crate) fn whole(value: &str) -> Option<u64> {
    if value.is_empty() {
        return None;
    }
    value.bytes().try_fold(0u64, |n, b| {
        let digit = b.is_ascii_digit().then(|| u64::from(b - b'0'))?;
        n.checked_mul(10)?.checked_add(digit)
    })
}

/// Member `name` as serde reads an `Option` field: `Some(None)` when it is missing or `null`,
/// `Some(Some(..))` when `read` takes its value, `None` when `read` refuses it.
#[cfg(feature = "sealed")] // the stores' and the gateway's readers
pub(crate) fn optional<'a, T>(
    members: &[Member<'a>],
    name: &str,
    read: impl FnOnce(&'a str) -> Option<T>,
) -> Option<Option<T>> {
    match get(members, name) {
        None | Some("null") => Some(None),
        Some(value) => read(value).map(Some),
    }
}

/// A JSON number (raw JSON text from [`members`]) that is not negative, floored to a whole
/// number and saturated at `u64::MAX` (`2.9` is 2, `1.8e9` is 1800000000, `-0` is 0); `None`
/// for negative numbers and any other value. Exact: no floating point is involved.
pub(crate) fn floor_u64(value: &str) -> Option<u64> {
    whole_u64(value, false)
}

/// [`floor_u64`] rounding up instead (`2.1` is 3, `2` is 2): a time compared to whole seconds
/// as it is, `t > now` exactly when `ceil_u64(t) > now`.
pub(crate) fn ceil_u64(value: &str) -> Option<u64> {
    whole_u64(value, true)
}

/// [`floor_u64`], or with `up` [`ceil_u64`].
fn whole_u64(value: &str, up: bool) -> Option<u64> {
    // The usual case, a whole number below 10^19, directly.
    if (1..20).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_digit()) {
        return Some(value.bytes().fold(0, |n, b| n * 10 + u64::from(b - b'0')));
    }
    let negative = value.starts_with('-');
    let number = value.strip_prefix('-').unwrap_or(value).as_bytes();
    // Valid JSON text starting with a digit is a number.
    if !number.first()?.is_ascii_digit() {
        return None;
    }
    let end = number
        .iter()
        .position(|&c| c == b'e' || c == b'E')
        .unwrap_or(number.len());
    let (mantissa, exponent) = number.split_at(end);
    let digits = || {
        mantissa
            .iter()
            .filter(|c| c.is_ascii_digit())
            .map(|c| u64::from(c - b'0'))
    };
    if digits().all(|d| d == 0) {
        // Zero, whatever its sign and exponent.
        return Some(0);
    }
    if negative {
        return None;
    }
    // The value is 0.DDDD × 10^point, DDDD the mantissa's digits.
    let shift = exponent
        .iter()
        .filter(|c| c.is_ascii_digit())
        .fold(0i64, |n, &c| (n * 10 + i64::from(c - b'0')).min(1 << 32));
    let int_len = mantissa.iter().take_while(|&&c| c != b'.').count() as i64;
    let point = int_len
        + if exponent.contains(&b'-') {
            -shift
        } else {
            shift
        };
    let mut n: u64 = 0;
    let mut digits = digits();
    for _ in 0..point {
        n = n
            .saturating_mul(10)
            .saturating_add(digits.next().unwrap_or(0));
        if n == u64::MAX {
            break;
        }
    }
    // The digits left are the fraction's.
    let fraction = up && digits.any(|d| d != 0);
    Some(n.saturating_add(u64::from(fraction)))
}

/// The digits of 2^1024 - 2^970, trailing zeros left out: the least magnitude that rounds to
/// infinity as an `f64` (halfway between `f64::MAX` and 2^1024, a tie that rounds to even).
const F64_OVERFLOW: &[u8] = b"179769313486231580793728971405303415079934132710037826936173778980444968292764750946649017977587207096330286416692887910946555547851940402630657488671505820681908902000708383676273854845817711531764475730270069855571366959622842914819860834936475292719074168444365510704342711559699508093042880177904174497792";

/// The number of integer digits of 2^1024 - 2^970.
const OVERFLOW_POINT: i64 = 309;

/// Whether a JSON number (valid grammar) is too large for an `f64`, exactly, without floating
/// point: its magnitude is 0.DDDD × 10^point with DDDD its significant digits.
fn overflows_f64(number: &[u8]) -> bool {
    let number = number.strip_prefix(b"-").unwrap_or(number);
    let end = number
        .iter()
        .position(|&c| c == b'e' || c == b'E')
        .unwrap_or(number.len());
    let (mantissa, exponent) = number.split_at(end);
    let int_len = mantissa.iter().take_while(|&&c| c != b'.').count() as i64;
    if exponent.is_empty() && int_len < OVERFLOW_POINT {
        return false;
    }
    let digits: Vec<u8> = mantissa
        .iter()
        .copied()
        .filter(u8::is_ascii_digit)
        .collect();
    let Some(first) = digits.iter().position(|&d| d != b'0') else {
        return false;
    };
    let shift = exponent
        .iter()
        .filter(|c| c.is_ascii_digit())
        .fold(0i64, |n, &c| (n * 10 + i64::from(c - b'0')).min(1 << 32));
    let shift = if exponent.contains(&b'-') {
        -shift
    } else {
        shift
    };
    let point = int_len - first as i64 + shift;
    let significant = digits.get(first..).unwrap_or_default();
    let significant = significant
        .iter()
        .rposition(|&d| d != b'0')
        .and_then(|last| significant.get(..=last))
        .unwrap_or_default();
    match point.cmp(&OVERFLOW_POINT) {
        std::cmp::Ordering::Greater => true,
        std::cmp::Ordering::Less => false,
        // Same number of integer digits: compare the digits; equal or greater overflows.
        std::cmp::Ordering::Equal => significant >= F64_OVERFLOW,
    }
}

/// Appends `s` as a JSON string, escaped as `serde_json` and `JSON.stringify` escape.
pub(crate) fn write_string(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let escape = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0..=0x1f => "",
            _ => continue,
        };
        // `start` and `i` are at ASCII bytes: the slice is always there.
        out.push_str(s.get(start..i).unwrap_or_default());
        if escape.is_empty() {
            // A nibble is below 16: the check compiles away and `0` is never used.
            let hex = |n: u8| char::from(HEX.get(usize::from(n & 0xf)).copied().unwrap_or(b'0'));
            out.push_str("\\u00");
            out.push(hex(b >> 4));
            out.push(hex(b));
        } else {
            out.push_str(escape);
        }
        start = i + 1;
    }
    out.push_str(s.get(start..).unwrap_or_default());
    out.push('"');
}

/// Appends `n` in decimal.
pub(crate) fn write_u64(out: &mut String, n: u64) {
    let mut digits = [0u8; 20];
    let digits = decimal(n, &mut digits);
    // Only ASCII digits were written.
    out.push_str(std::str::from_utf8(digits).unwrap_or_default());
}

/// Appends `n` in decimal to bytes.
pub(crate) fn write_u64_bytes(out: &mut Vec<u8>, n: u64) {
    let mut digits = [0u8; 20];
    out.extend_from_slice(decimal(n, &mut digits));
}

/// `n` in decimal, written at the end of `digits` (`u64::MAX` has 20 digits); the digits.
// One copy, as for `get`.
#[inline(never)]
fn decimal(n: u64, digits: &mut [u8; 20]) -> &[u8] {
    // Written from the end, `rest` being the digits still free. In wasm32 a 64-bit division is a
    // division (no multiply-high turns it into a product, as a 32-bit one is), so the digits of
    // a number past `u32::MAX` are taken 64-bit only until the rest fits in 32 bits: for times
    // in seconds, until 2106, never.
    let mut rest = digits.as_mut_slice();
    let mut n = n;
    while n > u64::from(u32::MAX) {
        if let Some((digit, front)) = std::mem::take(&mut rest).split_last_mut() {
            *digit = b'0' + (n % 10) as u8;
            rest = front;
        }
        n /= 10;
    }
    let mut n = n as u32;
    while let Some((digit, front)) = std::mem::take(&mut rest).split_last_mut() {
        *digit = b'0' + (n % 10) as u8;
        n /= 10;
        rest = front;
        if n == 0 {
            break;
        }
    }
    let start = rest.len();
    digits.get(start..).unwrap_or_default()
}

/// `n` as JSON text.
pub(crate) fn number(n: u64) -> String {
    let mut out = String::with_capacity(20);
    write_u64(&mut out, n);
    out
}

/// `s` as a JSON string.
pub(crate) fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    write_string(&mut out, s);
    out
}

/// The top level of a JSON object being edited before it is signed: members sorted by name,
/// values as JSON text.
#[derive(Debug)]
pub(crate) struct Object<'a> {
    members: Vec<(Cow<'a, str>, Cow<'a, str>)>,
}

impl<'a> Object<'a> {
    /// An object with no member.
    pub(crate) fn empty() -> Self {
        Object {
            members: Vec::new(),
        }
    }

    /// Reads one JSON object (see [`members`]).
    pub(crate) fn parse(json: &'a str) -> Result<Self, ObjectError> {
        Ok(Self::from_members(members(json)?))
    }

    /// The object of `members` as [`members`] returns them.
    pub(crate) fn from_members(members: Vec<Member<'a>>) -> Self {
        Object {
            members: members
                .into_iter()
                .map(|(n, v)| (n, Cow::Borrowed(v)))
                .collect(),
        }
    }

    fn find(&self, name: &str) -> Result<usize, usize> {
        self.members.binary_search_by(|(n, _)| n.as_ref().cmp(name))
    }

    /// The value of `name`, as JSON text.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        let i = self.find(name).ok()?;
        self.members.get(i).map(|(_, value)| value.as_ref())
    }

    /// Removes `name`, returning its value as JSON text.
    pub(crate) fn remove(&mut self, name: &str) -> Option<Cow<'a, str>> {
        let i = self.find(name).ok()?;
        Some(self.members.remove(i).1)
    }

    /// Sets `name` to `value`, JSON text the caller made.
    pub(crate) fn insert(&mut self, name: &'a str, value: String) {
        match self.find(name) {
            Ok(i) => {
                if let Some((_, old)) = self.members.get_mut(i) {
                    *old = Cow::Owned(value);
                }
            }
            Err(i) => self
                .members
                .insert(i, (Cow::Borrowed(name), Cow::Owned(value))),
        }
    }

    /// The object as compact JSON text, members sorted by name.
    pub(crate) fn to_json(&self) -> String {
        let len = self.members.iter().map(|(n, v)| n.len() + v.len() + 4);
        let mut out = String::with_capacity(2 + len.sum::<usize>());
        out.push('{');
        for (i, (name, value)) in self.members.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            write_string(&mut out, name);
            out.push(':');
            out.push_str(value);
        }
        out.push('}');
        out
    }
}

/// A cursor over JSON text. Every method returns `None` (or `false`) on anything that is not
/// valid JSON, never panics, and never recurses deeper than [`MAX_DEPTH`].
struct Parser<'a> {
    text: &'a str,
    at: usize,
    /// Set when a string was refused for a lone surrogate, to say so.
    lone_surrogate: bool,
    /// Set when nesting went past [`MAX_DEPTH`], to say so.
    too_deep: bool,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Self {
        Parser {
            text,
            at: 0,
            lone_surrogate: false,
            too_deep: false,
        }
    }

    /// Why the text was refused: a lone surrogate or nesting too deep if met, else not an
    /// object.
    fn refusal(&self) -> ObjectError {
        match (self.lone_surrogate, self.too_deep) {
            (true, _) => ObjectError::LoneSurrogate,
            (_, true) => ObjectError::TooDeep,
            _ => ObjectError::NotObject,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    fn eat(&mut self, b: u8) -> bool {
        let found = self.peek() == Some(b);
        self.at += usize::from(found);
        found
    }

    fn space(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    fn literal(&mut self, word: &str) -> Option<()> {
        let rest = self.text.as_bytes().get(self.at..).unwrap_or_default();
        let found = rest.starts_with(word.as_bytes());
        self.at += word.len() * usize::from(found);
        found.then_some(())
    }

    fn digits(&mut self) -> usize {
        let start = self.at;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.at += 1;
        }
        self.at - start
    }

    /// Skips one JSON value.
    fn value(&mut self, depth: usize) -> Option<()> {
        match self.peek()? {
            b'"' => self.string().map(drop),
            b'{' | b'[' => self.nested(depth + 1),
            b't' => self.literal("true"),
            b'f' => self.literal("false"),
            b'n' => self.literal("null"),
            _ => self.number(),
        }
    }

    /// Skips an object or an array.
    fn nested(&mut self, depth: usize) -> Option<()> {
        if depth > MAX_DEPTH {
            self.too_deep = true;
            return None;
        }
        let object = self.peek() == Some(b'{');
        let close = if object { b'}' } else { b']' };
        self.at += 1;
        self.space();
        if self.eat(close) {
            return Some(());
        }
        loop {
            self.space();
            if object {
                self.string()?;
                self.space();
                self.eat(b':').then_some(())?;
                self.space();
            }
            self.value(depth)?;
            self.space();
            if self.eat(close) {
                return Some(());
            }
            self.eat(b',').then_some(())?;
        }
    }

    fn number(&mut self) -> Option<()> {
        let start = self.at;
        self.grammar_number()?;
        // As `serde_json` does: a number beyond the largest `f64` is an error, not infinity
        // (`exp: 1e400` would otherwise read as "never expires").
        let text = self.text.as_bytes().get(start..self.at)?;
        (!overflows_f64(text)).then_some(())
    }

    fn grammar_number(&mut self) -> Option<()> {
        self.eat(b'-');
        match self.peek()? {
            b'0' => self.at += 1,
            b'1'..=b'9' => {
                self.digits();
            }
            _ => return None,
        }
        if self.eat(b'.') && self.digits() == 0 {
            return None;
        }
        if self.eat(b'e') || self.eat(b'E') {
            if !self.eat(b'+') {
                self.eat(b'-');
            }
            if self.digits() == 0 {
                return None;
            }
        }
        Some(())
    }

    /// Reads a string, borrowed from the text unless it holds escapes.
    fn string(&mut self) -> Option<Cow<'a, str>> {
        self.eat(b'"').then_some(())?;
        let start = self.at;
        let bytes = self.text.as_bytes();
        // The common case: no escape before the closing quote.
        loop {
            match *bytes.get(self.at)? {
                b'"' => {
                    self.at += 1;
                    return self.text.get(start..self.at - 1).map(Cow::Borrowed);
                }
                b'\\' => break,
                0..=0x1f => return None,
                _ => self.at += 1,
            }
        }
        let mut out = String::from(self.text.get(start..self.at)?);
        loop {
            let rest = self.text.get(self.at..)?;
            // Copy up to the next quote, backslash or control character.
            let plain = rest
                .bytes()
                .position(|b| b == b'"' || b == b'\\' || b < 0x20)?;
            out.push_str(rest.get(..plain)?);
            self.at += plain;
            // `position` found one of these at `self.at`.
            match *bytes.get(self.at)? {
                b'"' => {
                    self.at += 1;
                    return Some(Cow::Owned(out));
                }
                b'\\' => {
                    let escape = *bytes.get(self.at + 1)?;
                    self.at += 2;
                    out.push(match escape {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => self.unicode_escape()?,
                        _ => return None,
                    });
                }
                _ => return None,
            }
        }
    }

    /// Four hex digits, or a surrogate pair (`D83D\uDE00`); lone surrogates are refused.
    fn unicode_escape(&mut self) -> Option<char> {
        let high = self.hex4()?;
        if !(0xd800..0xe000).contains(&high) {
            return char::from_u32(high);
        }
        let low = match high < 0xdc00 && self.literal("\\u").is_some() {
            true => Some(self.hex4()?),
            false => None,
        };
        match low {
            Some(low @ 0xdc00..0xe000) => {
                char::from_u32(0x10000 + ((high - 0xd800) << 10) + (low - 0xdc00))
            }
            _ => {
                self.lone_surrogate = true;
                None
            }
        }
    }

    fn hex4(&mut self) -> Option<u32> {
        let digits = self.text.get(self.at..self.at + 4)?;
        let mut n = 0;
        for b in digits.bytes() {
            n = n * 16 + char::from(b).to_digit(16)?;
        }
        self.at += 4;
        Some(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_duplicates_even_when_escaped() {
        for json in [
            r#"{"a":1,"a":2}"#,
            r#"{"exp":1,"e\u0078p":2}"#,
            r#"{"x":1,"y":2,"x":3}"#,
        ] {
            assert_eq!(members(json), Err(ObjectError::Duplicate), "{json}");
        }
        assert!(members(r#"{"a":{"b":1},"b":1}"#).is_ok());
    }

    /// What a `malformed` (or `invalid_claims`) error says: the kind of refusal, and whether
    /// the header or the claims were refused.
    #[test]
    fn refusals_say_why() {
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(127), "]".repeat(127));
        for (json, header, claims) in [
            (r#"{"a":1,"a":2}"#, "duplicate header field", "duplicate claim name"),
            ("[]", "header is not a JSON object", "claims are not a JSON object"),
            (
                r#"{"a":"\ud800"}"#,
                "header holds a lone surrogate",
                "claims hold a lone surrogate (half of a UTF-16 pair, as a string cut inside an emoji)",
            ),
            (
                &deep,
                "header is nested more than 127 levels deep",
                "claims are nested more than 127 levels deep",
            ),
        ] {
            let e = members(json).unwrap_err();
            assert_eq!(e.message("header"), header, "{json:.20}");
            assert_eq!(e.message("claims"), claims, "{json:.20}");
        }
    }

    #[test]
    fn many_names_in_any_order_come_out_sorted() {
        let names: Vec<String> = (0..5000).map(|i| format!("n{i:05}")).collect();
        let object = |names: &[String]| {
            let inner: Vec<String> = names.iter().map(|n| format!("\"{n}\":0")).collect();
            format!("{{{}}}", inner.join(","))
        };
        let mut descending = names.clone();
        descending.reverse();
        for order in [&names, &descending] {
            let text = object(order);
            let read = members(&text).unwrap();
            let read: Vec<&str> = read.iter().map(|(n, _)| n.as_ref()).collect();
            assert_eq!(read, names);
        }
        // A repeated name is refused wherever the two stand.
        for (i, j) in [(0, 4999), (2500, 2501), (4998, 4999)] {
            let mut twice = descending.clone();
            twice[j] = twice[i].clone();
            assert_eq!(
                members(&object(&twice)),
                Err(ObjectError::Duplicate),
                "{i} {j}"
            );
        }
    }

    #[test]
    fn refuses_non_objects_and_trailing_data() {
        for json in [
            "", "[]", "1", "\"s\"", "{", "{}x", "{} {}", "{\"a\":}", "null",
        ] {
            assert_eq!(members(json), Err(ObjectError::NotObject), "{json:?}");
        }
        assert!(members(" {} ").is_ok());
    }

    #[test]
    fn refuses_what_serde_json_refuses() {
        for json in [
            r#"{"a":1,}"#,
            r#"{"a":[1,]}"#,
            r#"{'a':1}"#,
            r#"{"a":01}"#,
            r#"{"a":1.}"#,
            r#"{"a":.5}"#,
            r#"{"a":1e}"#,
            r#"{"a":+1}"#,
            r#"{"a":tru}"#,
            r#"{"a":NaN}"#,
            "{\"a\":\"\u{1}\"}",
            r#"{"a":"\x"}"#,
            r#"{"a":"\u12"}"#,
            r#"{"a":"\ud800\u12"}"#,
            r#"{"a" 1}"#,
            r#"{"a":1 "b":2}"#,
        ] {
            assert_eq!(members(json), Err(ObjectError::NotObject), "{json}");
        }
        // Lone surrogates, refused as serde_json refuses them, and said: JavaScript writes one
        // for a string cut inside an emoji.
        for json in [
            r#"{"a":"\ud800"}"#,
            r#"{"a":"\udc00"}"#,
            r#"{"a":"x\ud83dy"}"#,
            r#"{"a":"\ud800\u0041"}"#,
            r#"{"a":"\ud800\ud800"}"#,
            // A low surrogate first, even one followed by another low one.
            r#"{"a":"\udc00\udc00"}"#,
            r#"{"\udfff":1}"#,
            r#"{"a":[{"b":"\ud83d"}]}"#,
        ] {
            assert_eq!(members(json), Err(ObjectError::LoneSurrogate), "{json}");
        }
        assert!(members(r#"{"a":"\ud83d\ude00","\ud800\udc00":1}"#).is_ok());
        // Numbers beyond the largest f64, exactly where serde_json draws the line.
        let max = "179769313486231580793728971405303415079934132710037826936173778980444968292764750946649017977587207096330286416692887910946555547851940402630657488671505820681908902000708383676273854845817711531764475730270069855571366959622842914819860834936475292719074168444365510704342711559699508093042880177904174497792";
        let below = max.replace("97792", "97791");
        for (number, too_large) in [
            ("1e400", true),
            ("-1e400", true),
            ("1E+309", true),
            ("0.0001e313", true),
            // Leading zeros of the fraction count against the exponent: 1e306.
            ("0.0001e310", false),
            ("1.8e308", true),
            ("1.7976931348623157e308", false),
            ("1.7976931348623158e308", false),
            (&format!("{max}0000"), true),
            (&format!("{max}.0e-0"), true),
            (&format!("0.{max}e309"), true),
            (max, true),
            (&below, false),
            (&format!("{below}.999"), false),
            ("1e-400", false),
            ("0e999999999999", false),
            ("123456789", false),
        ] {
            let json = format!(r#"{{"exp":{number}}}"#);
            let serde_refuses = serde_json::from_str::<serde_json::Value>(&json).is_err();
            assert_eq!(serde_refuses, too_large, "serde_json on {number:.40}");
            assert_eq!(members(&json).is_err(), too_large, "{number:.40}");
        }
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(126), "]".repeat(126));
        assert!(members(&deep).is_ok());
        let deeper = format!("{{\"a\":{}{}}}", "[".repeat(127), "]".repeat(127));
        assert!(serde_json::from_str::<serde_json::Value>(&deep).is_ok());
        assert!(serde_json::from_str::<serde_json::Value>(&deeper).is_err());
        assert_eq!(members(&deeper), Err(ObjectError::TooDeep));
        let bomb = "[".repeat(100_000);
        assert_eq!(
            members(&format!("{{\"a\":{bomb}}}")),
            Err(ObjectError::TooDeep)
        );
    }

    #[test]
    fn reads_members_sorted_with_raw_values() {
        let json =
            r#" { "z" : [1, {"x": "y"}] , "a\u00e9\n" : "t\"\\\/\ud83d\ude00", "m":-1.5e+3 } "#;
        let m = members(json).unwrap();
        let names: Vec<&str> = m.iter().map(|(n, _)| n.as_ref()).collect();
        assert_eq!(names, ["a\u{e9}\n", "m", "z"]);
        assert_eq!(get(&m, "z"), Some(r#"[1, {"x": "y"}]"#));
        assert_eq!(get(&m, "m"), Some("-1.5e+3"));
        assert_eq!(
            string(get(&m, "a\u{e9}\n").unwrap()).as_deref(),
            Some("t\"\\/\u{1f600}")
        );
        assert_eq!(get(&m, "b"), None);
        // Every escape of RFC 8259 reads as its character.
        assert_eq!(
            string(r#""\b\f\n\r\t\"\\\/\u0041x""#).as_deref(),
            Some("\u{8}\u{c}\n\r\t\"\\/Ax")
        );
        assert_eq!(string("1"), None);
        assert_eq!(string(r#""a" "#), None);
        assert_eq!(strings(r#"[ "a" , "b\u0063" ]"#).unwrap(), ["a", "bc"]);
        assert_eq!(strings("[]").unwrap(), Vec::<Cow<str>>::new());
        assert_eq!(strings(r#"["a",1]"#), None);
    }

    #[test]
    fn floors_numbers_exactly() {
        for (text, want) in [
            ("0", Some(0)),
            ("-0", Some(0)),
            ("-0.0e5", Some(0)),
            ("0e4294967296", Some(0)),
            ("7", Some(7)),
            ("2.9", Some(2)),
            ("1.8e9", Some(1_800_000_000)),
            ("1800000000.999", Some(1_800_000_000)),
            ("18e-1", Some(1)),
            ("5E+2", Some(500)),
            ("1e-400", Some(0)),
            ("18446744073709551615", Some(u64::MAX)),
            ("18446744073709551616", Some(u64::MAX)),
            ("1e400", Some(u64::MAX)),
            ("9e99999999999999999999", Some(u64::MAX)),
            ("-1", None),
            ("-0.5", None),
            ("\"1\"", None),
            ("\"-1\"", None),
            ("-", None),
            ("true", None),
            ("[1]", None),
            ("", None),
        ] {
            assert_eq!(floor_u64(text), want, "{text}");
        }
    }

    #[test]
    fn rounds_numbers_up_exactly() {
        for (text, want) in [
            ("0", Some(0)),
            ("-0", Some(0)),
            ("-0.0e5", Some(0)),
            ("7", Some(7)),
            ("7.0", Some(7)),
            ("7.000", Some(7)),
            ("2.1", Some(3)),
            ("2.9", Some(3)),
            ("0.5", Some(1)),
            ("1e-400", Some(1)),
            ("5e-1", Some(1)),
            ("1.8e9", Some(1_800_000_000)),
            ("1800000000.000001", Some(1_800_000_001)),
            ("18000000005e-1", Some(1_800_000_001)),
            ("18000000000e-1", Some(1_800_000_000)),
            ("1.80000000050e9", Some(1_800_000_001)),
            ("18446744073709551615", Some(u64::MAX)),
            ("18446744073709551614.5", Some(u64::MAX)),
            ("1e400", Some(u64::MAX)),
            ("-0.5", None),
            ("-1", None),
            ("\"1\"", None),
        ] {
            assert_eq!(ceil_u64(text), want, "{text}");
        }
    }

    #[test]
    fn writes_what_serde_json_writes() {
        for s in [
            "",
            "plain",
            "q\"b\\s/",
            "\u{0}\u{1f}\u{7f}\u{8}\u{c}\n\r\t",
            "é😀",
        ] {
            let mut out = String::new();
            write_string(&mut out, s);
            assert_eq!(out, serde_json::to_string(s).unwrap());
        }
        let u32_max = u64::from(u32::MAX);
        for n in [
            0,
            9,
            10,
            1_800_000_000,
            u32_max,
            u32_max + 1,
            u32_max * 10,
            1 << 53,
            u64::MAX,
        ] {
            let mut out = String::new();
            write_u64(&mut out, n);
            assert_eq!(out, n.to_string());
            let mut bytes = b"x".to_vec();
            write_u64_bytes(&mut bytes, n);
            assert_eq!(bytes, format!("x{n}").into_bytes());
        }
    }

    #[test]
    fn edits_and_writes_objects_sorted() {
        let mut o =
            Object::parse(r#"{"sub":"u","iat":1,"e\u0078p":2,"nested":{"z":1,"a":2}}"#).unwrap();
        assert_eq!(o.remove("iat").as_deref(), Some("1"));
        assert_eq!(o.remove("iat"), None);
        assert_eq!(o.get("exp"), Some("2"));
        o.insert("exp", "3".into());
        o.insert("auth_time", "4".into());
        assert_eq!(
            o.to_json(),
            r#"{"auth_time":4,"exp":3,"nested":{"z":1,"a":2},"sub":"u"}"#
        );
        let escaped = Object::parse(r#"{"a\"b":1,"\u0001":2}"#).unwrap();
        assert_eq!(escaped.to_json(), r#"{"\u0001":2,"a\"b":1}"#);
    }
}

/// `members` and `Object` against `serde_json` on generated JSON.
#[cfg(test)]
#[cfg(not(target_arch = "wasm32"))]
mod properties {
    use super::*;
    use proptest::prelude::*;
    use serde_json::{Map, Value};

    fn arb_object() -> impl Strategy<Value = Map<String, Value>> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Value::from),
            any::<String>().prop_map(Value::from),
        ];
        let value = leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
                prop::collection::btree_map(any::<String>(), inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        });
        prop::collection::btree_map(any::<String>(), value, 0..8)
            .prop_map(|m| m.into_iter().collect())
    }

    proptest! {
        #[test]
        fn reads_and_writes_what_serde_json_writes(map in arb_object()) {
            let json = Value::Object(map.clone()).to_string();
            let got = members(&json).unwrap();
            prop_assert_eq!(got.len(), map.len());
            for (name, value) in &got {
                let value: Value = serde_json::from_str(value).unwrap();
                prop_assert_eq!(&value, &map[name.as_ref()]);
            }
            prop_assert_eq!(Object::parse(&json).unwrap().to_json(), json);
        }

        #[test]
        fn accepts_nothing_serde_json_refuses(
            map in arb_object(),
            index: prop::sample::Index,
            byte: u8,
        ) {
            let mut bytes = Value::Object(map).to_string().into_bytes();
            let i = index.index(bytes.len());
            bytes[i] = byte;
            if let Ok(text) = String::from_utf8(bytes) {
                if members(&text).is_ok() {
                    let theirs = serde_json::from_str::<Map<String, Value>>(&text);
                    prop_assert!(theirs.is_ok(), "{text}: {theirs:?}");
                }
            }
        }
    }
}
