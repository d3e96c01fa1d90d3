//! The module table of the `pyoxidizer` strategy: compiled Python modules (marshalled code
//! objects, and sources where kept) in one file the runtime maps into memory and imports from,
//! plus the names of extension modules and where their files are. Written by the packer, read
//! by the runtime's importer without copying.
//!
//! Layout (little-endian): `AVMODS01`, entry count (u32), then per entry: kind (u8), name length
//! (u16), origin length (u16), code offset and length (u64, u32), source offset and length (u64,
//! u32), name, origin; then the data. Offsets are from the start of the file.

use std::collections::HashMap;

const MAGIC: &[u8; 8] = b"AVMODS01";
/// The fixed part of an entry: kind, name and origin lengths, code and source offsets and lengths.
const ENTRY_FIXED: usize = 1 + 2 + 2 + 8 + 4 + 8 + 4;
pub const FILE_NAME: &str = "modules.avm";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    Module = 0,
    Package = 1,
    /// A native extension: its file is extracted; `origin` is where.
    Extension = 2,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub kind: Kind,
    /// Path of the module's file (or, for in-memory modules, where it would be) below the app's
    /// tree, `/`-separated.
    pub origin: String,
    /// Marshalled code object (empty for extensions).
    pub code: Vec<u8>,
    pub source: Option<Vec<u8>>,
}

pub fn encode(entries: &[Entry]) -> Vec<u8> {
    let mut entries: Vec<&Entry> = entries.iter().collect();
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    entries.dedup_by(|a, b| a.name == b.name);
    let header_len: usize = 12 + entries.iter().map(|e| ENTRY_FIXED + e.name.len() + e.origin.len()).sum::<usize>();
    let mut out = Vec::with_capacity(header_len + entries.iter().map(|e| e.code.len()).sum::<usize>());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(entries.len() as u32).to_le_bytes());
    let mut data_at = header_len as u64;
    let mut data = Vec::new();
    for e in &entries {
        let src = e.source.as_deref().unwrap_or(&[]);
        out.push(e.kind as u8);
        out.extend_from_slice(&(e.name.len() as u16).to_le_bytes());
        out.extend_from_slice(&(e.origin.len() as u16).to_le_bytes());
        out.extend_from_slice(&data_at.to_le_bytes());
        out.extend_from_slice(&(e.code.len() as u32).to_le_bytes());
        out.extend_from_slice(&(data_at + e.code.len() as u64).to_le_bytes());
        out.extend_from_slice(&(if e.source.is_some() { src.len() as u32 } else { u32::MAX }).to_le_bytes());
        out.extend_from_slice(e.name.as_bytes());
        out.extend_from_slice(e.origin.as_bytes());
        data.extend_from_slice(&e.code);
        data.extend_from_slice(src);
        data_at += (e.code.len() + src.len()) as u64;
    }
    debug_assert_eq!(out.len(), header_len);
    out.extend_from_slice(&data);
    out
}

/// Where an entry's parts are in the table's bytes.
#[derive(Debug, Clone)]
pub struct Located {
    pub kind: Kind,
    pub origin: String,
    pub code: std::ops::Range<usize>,
    pub source: Option<std::ops::Range<usize>>,
}

/// Parses the entry list (not the data). `None` if the bytes are not a valid table.
pub fn parse(bytes: &[u8]) -> Option<HashMap<String, Located>> {
    if bytes.len() < 12 || &bytes[..8] != MAGIC {
        return None;
    }
    let count = u32::from_le_bytes(bytes[8..12].try_into().ok()?) as usize;
    // Each entry takes at least its fixed fields: a count the bytes cannot hold is refused before
    // anything is sized from it.
    if count > (bytes.len() - 12) / ENTRY_FIXED {
        return None;
    }
    let mut at = 12;
    let mut map = HashMap::with_capacity(count);
    let u16_at =
        |i: usize| -> Option<usize> { Some(u16::from_le_bytes(bytes.get(i..i + 2)?.try_into().ok()?) as usize) };
    let u32_at = |i: usize| -> Option<u32> { Some(u32::from_le_bytes(bytes.get(i..i + 4)?.try_into().ok()?)) };
    let u64_at =
        |i: usize| -> Option<usize> { Some(u64::from_le_bytes(bytes.get(i..i + 8)?.try_into().ok()?) as usize) };
    for _ in 0..count {
        let kind = match *bytes.get(at)? {
            0 => Kind::Module,
            1 => Kind::Package,
            2 => Kind::Extension,
            _ => return None,
        };
        let (name_len, origin_len) = (u16_at(at + 1)?, u16_at(at + 3)?);
        let (code_at, code_len) = (u64_at(at + 5)?, u32_at(at + 13)? as usize);
        let (src_at, src_len) = (u64_at(at + 17)?, u32_at(at + 25)?);
        at += ENTRY_FIXED;
        let name = std::str::from_utf8(bytes.get(at..at + name_len)?).ok()?.to_string();
        let origin = std::str::from_utf8(bytes.get(at + name_len..at + name_len + origin_len)?).ok()?.to_string();
        at += name_len + origin_len;
        let code = code_at..code_at.checked_add(code_len)?;
        bytes.get(code.clone())?;
        let source = if src_len == u32::MAX {
            None
        } else {
            let r = src_at..src_at.checked_add(src_len as usize)?;
            bytes.get(r.clone())?;
            Some(r)
        };
        map.insert(name, Located { kind, origin, code, source });
    }
    Some(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        let entries = vec![
            Entry {
                name: "b".into(),
                kind: Kind::Package,
                origin: "python/b/__init__.py".into(),
                code: vec![1, 2],
                source: Some(b"x".to_vec()),
            },
            Entry { name: "a".into(), kind: Kind::Module, origin: "python/a.py".into(), code: vec![3], source: None },
            Entry { name: "c".into(), kind: Kind::Extension, origin: "python/c.so".into(), code: vec![], source: None },
        ];
        let bytes = encode(&entries);
        let map = parse(&bytes).unwrap();
        assert_eq!(map.len(), 3);
        assert_eq!(&bytes[map["b"].code.clone()], &[1, 2]);
        assert_eq!(&bytes[map["b"].source.clone().unwrap()], b"x");
        assert_eq!(map["a"].source, None);
        assert_eq!(map["c"].kind, Kind::Extension);
        assert!(parse(&bytes[..bytes.len() - 1]).is_none(), "truncated data");
        assert!(parse(b"AVMODS00\0\0\0\0").is_none(), "bad magic");
        assert!(parse(&bytes[..20]).is_none(), "truncated entries");
        let mut huge = bytes.clone();
        huge[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(parse(&huge).is_none(), "an entry count the table cannot hold");
    }
}
