//! The file store's line format: one event's JSON with a CRC-32C checksum as its last
//! member, and the check that reads such a line back (or a line written before
//! checksums existed).
//!
//! The rule, so that a host can verify a line in any language: a line (without its
//! `\n`) written by [`FileStore`](super::FileStore) is
//!
//! ```text
//! BODY + ",\"crc32c\":\"" + 8 lowercase hex digits + "\"}"
//! ```
//!
//! where `BODY` is the event's JSON object without its closing `}`, and the hex digits
//! are the CRC-32C (Castagnoli, reflected polynomial `0x82F63B78`, initial value and
//! final XOR `0xFFFFFFFF`; `crc32c("123456789") = e3069283`) of the bytes of `BODY`. In
//! other words: cut the last 21 bytes off the line, and the CRC-32C of what remains is
//! the 8 hex digits inside those 21 bytes. The line stays one JSON object, an event with
//! one extra member that event readers ignore.

use crate::error::DecodeError;
use crate::event::Event;

/// What sits between the event's body and the checksum's hex digits.
const MEMBER: &[u8] = b",\"crc32c\":\"";
/// What ends a checksummed line after the hex digits.
const CLOSE: &[u8] = b"\"}";
/// The length of everything after the body: member, 8 hex digits, close.
const SUFFIX_LEN: usize = MEMBER.len() + 8 + CLOSE.len();

/// CRC-32C lookup tables, computed at compile time: `TABLES[0]` advances the CRC by one
/// byte, `TABLES[k]` by one byte followed by `k` zero bytes, so eight bytes are folded
/// in at once ("slicing by 8"), about four times as fast as one table.
// `i` stays below 256 and `k` below 8, so neither the indexes nor the cast can go wrong.
#[allow(clippy::indexing_slicing, clippy::cast_possible_truncation)]
const TABLES: [[u32; 256]; 8] = {
    let mut tables = [[0u32; 256]; 8];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u32;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0x82F6_3B78 } else { crc >> 1 };
            bit += 1;
        }
        tables[0][i] = crc;
        i += 1;
    }
    let mut k = 1;
    while k < 8 {
        let mut i = 0;
        while i < 256 {
            let previous = tables[k - 1][i];
            tables[k][i] = (previous >> 8) ^ tables[0][(previous & 0xff) as usize];
            i += 1;
        }
        k += 1;
    }
    tables
};

/// The entry of table `k` for the low byte of `index`.
#[allow(clippy::indexing_slicing)] // `k < 8` at every call and the index is masked to 0..=255
fn entry(k: usize, index: u32) -> u32 {
    TABLES[k][(index & 0xff) as usize]
}

/// CRC-32C (Castagnoli) of `bytes`, as iSCSI, ext4 and many storage formats use it: it
/// detects every error within 32 consecutive bits, so every changed byte.
pub(crate) fn crc32c(bytes: &[u8]) -> u32 {
    let mut crc = u32::MAX;
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let [a, b, c, d, e, f, g, h] = <[u8; 8]>::try_from(chunk).unwrap_or_default();
        let low = u32::from_le_bytes([a, b, c, d]) ^ crc;
        let high = u32::from_le_bytes([e, f, g, h]);
        crc = entry(7, low)
            ^ entry(6, low >> 8)
            ^ entry(5, low >> 16)
            ^ entry(4, low >> 24)
            ^ entry(3, high)
            ^ entry(2, high >> 8)
            ^ entry(1, high >> 16)
            ^ entry(0, high >> 24);
    }
    for &byte in chunks.remainder() {
        crc = (crc >> 8) ^ entry(0, crc ^ u32::from(byte));
    }
    !crc
}

/// Appends `event` to `out` as one checksummed line, without the `\n`.
pub(super) fn encode(event: &Event, out: &mut String) -> Result<(), serde_json::Error> {
    let json = event.to_json()?;
    // An event serialises as a JSON object, so it ends in `}`.
    let body = json.strip_suffix('}').unwrap_or(&json);
    out.push_str(body);
    out.push_str(",\"crc32c\":\"");
    out.push_str(&format!("{:08x}", crc32c(body.as_bytes())));
    out.push_str("\"}");
    Ok(())
}

/// Why a line cannot be served.
#[derive(Debug)]
pub(super) enum Damage {
    /// The line carries a checksum that does not match its bytes (`stored`), or no
    /// readable checksum at all and is not a line written before checksums (`None`).
    Checksum { stored: Option<u32>, computed: u32 },
    /// The checksum holds (or the line predates checksums) but it is not an event.
    Decode(DecodeError),
}

/// Whether a complete line that fails [`check`] may be a line the store wrote, changed
/// afterwards: then it may hold an acknowledged event and its case is quarantined.
///
/// Every line the store writes starts with `{"schema":`, ends in `"}`, and carries the
/// checksum member `,"crc32c":"` (a line written before checksums starts and ends the
/// same way). A few changed bytes leave at least one of these marks: one changed byte
/// can break at most one of them, and a byte changed into a newline splits the line
/// into a first part that starts with `{` and a second that ends with `}`. A line with
/// none of them (zeros a file system left where a write never reached the disk, text
/// another program appended) could not have been written by an append.
pub(super) fn may_be_stored(raw: &[u8]) -> bool {
    raw.first() == Some(&b'{') || raw.last() == Some(&b'}') || contains(raw, b"\"schema\":") || contains(raw, MEMBER)
}

/// Whether the bytes after a file's last newline (`tail`) hold more than an interrupted
/// append can leave. Every append writes whole lines, each ending in its checksum
/// member and a newline, so a torn append leaves a *prefix* of one line: at most a whole
/// line without its newline. A tail where a whole checksummed line (`"crc32c":"` + 8
/// lowercase hex digits + `"}`) is followed by more bytes, or that is a whole line of
/// any kind followed by one byte, is a complete line whose newline was changed.
pub(super) fn holds_a_whole_line(tail: &[u8], line: usize) -> bool {
    let Some((_, before_last)) = tail.split_last() else { return false };
    // The checksum member's key, value and close occur only at the end of a line: in a
    // JSON string every quote is escaped, so these bytes cannot come from event text.
    let whole = tail
        .windows(SUFFIX_LEN)
        .enumerate()
        .any(|(at, suffix)| at.saturating_add(SUFFIX_LEN) < tail.len() && split(suffix).is_some_and(|s| s.1.is_some()));
    whole || matches!(check(before_last, line), Ok(Some(_)))
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Checks and decodes one line (`raw`, without its `\n`), line number `line` of its file.
/// `Ok(None)` for a blank line.
///
/// A line ending in the checksum member must match it. A line without one is accepted
/// only as a line written before checksums existed: those are an event's JSON exactly
/// as serialised, which always ends in `}}` (the event kind object, then the event).
/// No single changed byte turns a checksummed line into that shape and valid JSON, so
/// every changed byte of a checksummed line is caught.
pub(super) fn check(raw: &[u8], line: usize) -> Result<Option<Event>, Damage> {
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    if let Some((body, stored)) = split(raw) {
        let computed = crc32c(body);
        if stored != Some(computed) {
            return Err(Damage::Checksum { stored, computed });
        }
    } else if !raw.ends_with(b"}}") {
        return Err(Damage::Checksum { stored: None, computed: crc32c(raw) });
    }
    let text = std::str::from_utf8(raw).map_err(|e| {
        Damage::Decode(DecodeError::Syntax {
            line,
            column: e.valid_up_to().saturating_add(1),
            message: "invalid UTF-8".to_owned(),
        })
    })?;
    crate::codec::decode_event(text, line).map(Some).map_err(Damage::Decode)
}

/// Splits a line that ends in the checksum member into its body and the stored value
/// (`None` when the 8 characters are not lowercase hex digits).
fn split(raw: &[u8]) -> Option<(&[u8], Option<u32>)> {
    let (body, suffix) = raw.split_at_checked(raw.len().checked_sub(SUFFIX_LEN)?)?;
    let hex = suffix.strip_prefix(MEMBER)?.strip_suffix(CLOSE)?;
    let stored = hex
        .iter()
        .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        .then(|| std::str::from_utf8(hex).ok().and_then(|h| u32::from_str_radix(h, 16).ok()))
        .flatten();
    Some((body, stored))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_matches_the_standard_check_value() {
        assert_eq!(crc32c(b"123456789"), 0xe306_9283);
        assert_eq!(crc32c(b""), 0);
        // RFC 3720 (iSCSI), B.4: 32 bytes of zeros, of ones, and counting up.
        assert_eq!(crc32c(&[0; 32]), 0x8a91_36aa);
        assert_eq!(crc32c(&[0xff; 32]), 0x62a8_ab43);
        assert_eq!(crc32c(&(0..32).collect::<Vec<u8>>()), 0x46dd_794e);
        // Every length, so every split between eight-byte chunks and the rest, agrees
        // with the CRC taken one bit at a time.
        let bytes: Vec<u8> = (0..100u8).map(|b| b.wrapping_mul(37)).collect();
        for len in 0..bytes.len() {
            let mut slow = u32::MAX;
            for &b in &bytes[..len] {
                slow ^= u32::from(b);
                for _ in 0..8 {
                    slow = if slow & 1 == 1 { (slow >> 1) ^ 0x82F6_3B78 } else { slow >> 1 };
                }
            }
            assert_eq!(crc32c(&bytes[..len]), !slow, "length {len}");
        }
    }

    fn line() -> (Event, Vec<u8>) {
        use crate::{Actor, CaseId, Opening, Rules, Staff};
        let t = time::macros::datetime!(2026-11-23 09:00 UTC);
        let opening = Opening::new("cust-7", "my laptop works", Staff::new("ana", "software"));
        let event = Rules::default().open(CaseId::new_v7(t, [1; 10]), opening, &Actor::customer("cust-7"), t).unwrap();
        let mut text = String::new();
        encode(&event, &mut text).unwrap();
        (event, text.into_bytes())
    }

    #[test]
    fn a_line_reads_back_as_its_event() {
        let (event, line) = line();
        assert_eq!(check(&line, 1).unwrap(), Some(event.clone()));
        // A line written before checksums is read as it is.
        assert_eq!(check(event.to_json().unwrap().as_bytes(), 1).unwrap(), Some(event));
        assert!(check(b"  ", 1).unwrap().is_none());
    }

    /// Every other value of every byte of a line (a newline aside: it splits the line,
    /// which the file store's tests cover) is caught by the line check alone.
    #[test]
    fn every_single_byte_change_fails_the_check() {
        let (_, original) = line();
        let mut changed = original.clone();
        for offset in 0..original.len() {
            for value in (0..=255u8).filter(|&v| v != original[offset] && v != b'\n') {
                changed[offset] = value;
                let checked = check(&changed, 1);
                assert!(checked.is_err(), "offset {offset}, byte {value:#04x}: {checked:?}");
            }
            changed[offset] = original[offset];
        }
    }

    /// Whatever one byte of a line is changed into, the line still looks like one the
    /// store may have written; a byte changed into a newline leaves two parts that do.
    #[test]
    fn a_line_with_one_changed_byte_may_still_be_the_store_s() {
        let (event, original) = line();
        let legacy = event.to_json().unwrap().into_bytes();
        for original in [original, legacy] {
            let mut changed = original.clone();
            for offset in 0..original.len() {
                for value in (0..=255u8).filter(|&v| v != original[offset]) {
                    changed[offset] = value;
                    for part in changed.split(|&b| b == b'\n').filter(|p| !p.is_empty()) {
                        assert!(may_be_stored(part), "offset {offset}, byte {value:#04x}");
                    }
                }
                changed[offset] = original[offset];
            }
        }
        for foreign in [&b"\0\0\0\0"[..], b"hello world", b"\"schem\":", b"x}y{"] {
            assert!(!may_be_stored(foreign), "{foreign:?}");
        }
    }

    /// A torn append leaves a prefix of a line: never "a whole line and more".
    #[test]
    fn only_a_whole_line_and_more_is_more_than_a_torn_append() {
        let (event, line) = line();
        let legacy = event.to_json().unwrap().into_bytes();
        for line in [line, legacy] {
            for end in 0..=line.len() {
                assert!(!holds_a_whole_line(&line[..end], 1), "a prefix of {end} bytes");
            }
            for extra in (0..=255u8).filter(|&b| b != b'\n') {
                let tail = [&line[..], &[extra]].concat();
                assert!(holds_a_whole_line(&tail, 1), "byte {extra:#04x} after the line");
            }
        }
        let (_, line) = self::line();
        assert!(holds_a_whole_line(&[&line[..], b"\0\0\0{\"sch"].concat(), 1));
    }

    #[test]
    fn the_suffix_is_found_only_in_its_exact_shape() {
        let line = b"{\"a\":{\"b\":1},\"crc32c\":\"0123abcd\"}";
        assert_eq!(split(line), Some((&b"{\"a\":{\"b\":1}"[..], Some(0x0123_abcd))));
        assert_eq!(split(b"{\"a\":{\"b\":1},\"crc32c\":\"0123ABCD\"}").map(|s| s.1), Some(None));
        assert_eq!(split(b"{\"a\":{\"b\":1},\"crc32d\":\"0123abcd\"}"), None);
        assert_eq!(split(b"\"}"), None);
    }
}
