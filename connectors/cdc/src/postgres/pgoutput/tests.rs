#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

/// Builds pgoutput messages byte by byte, the way the server lays them out.
struct Msg(Vec<u8>);

impl Msg {
    fn new(tag: u8) -> Self {
        Msg(vec![tag])
    }
    fn u8(mut self, v: u8) -> Self {
        self.0.push(v);
        self
    }
    fn i16(mut self, v: i16) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn i32(mut self, v: i32) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn u32(mut self, v: u32) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn i64(mut self, v: i64) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn u64(mut self, v: u64) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn cstr(mut self, s: &str) -> Self {
        self.0.extend_from_slice(s.as_bytes());
        self.0.push(0);
        self
    }
    fn raw(mut self, bytes: &[u8]) -> Self {
        self.0.extend_from_slice(bytes);
        self
    }
    /// TupleData: Int16 count, then per column a kind byte and maybe a value.
    fn tuple(mut self, values: &[TupleValue]) -> Self {
        self = self.i16(i16::try_from(values.len()).unwrap());
        for value in values {
            self = match value {
                TupleValue::Null => self.u8(b'n'),
                TupleValue::UnchangedToast => self.u8(b'u'),
                TupleValue::Text(s) => self
                    .u8(b't')
                    .i32(i32::try_from(s.len()).unwrap())
                    .raw(s.as_bytes()),
                TupleValue::Binary(b) => self.u8(b'b').i32(i32::try_from(b.len()).unwrap()).raw(b),
            };
        }
        self
    }
    fn bytes(self) -> Vec<u8> {
        self.0
    }
}

fn text(s: &str) -> TupleValue {
    TupleValue::Text(s.to_owned())
}

fn all_kinds() -> Vec<TupleValue> {
    vec![
        TupleValue::Null,
        TupleValue::UnchangedToast,
        text("héllo"),
        TupleValue::Binary(Bytes::from_static(&[0, 1, 0xff])),
        text(""),
    ]
}

/// Every message type, with the value it must decode to.
fn samples() -> Vec<(Vec<u8>, PgOutputMessage)> {
    let key = vec![text("42")];
    let old_full = vec![text("42"), text("old"), TupleValue::Null];
    let new = vec![text("42"), text("new"), TupleValue::UnchangedToast];
    vec![
        (
            Msg::new(b'B')
                .u64(0x0000_0001_0000_0a00)
                .i64(760_000_000_123_456)
                .u32(7_001)
                .bytes(),
            PgOutputMessage::Begin {
                final_lsn: 0x0000_0001_0000_0a00,
                commit_ts_micros: 760_000_000_123_456,
                xid: 7_001,
            },
        ),
        (
            Msg::new(b'C').u8(0).u64(0x10).u64(0x20).i64(-5).bytes(),
            PgOutputMessage::Commit {
                flags: 0,
                commit_lsn: 0x10,
                end_lsn: 0x20,
                commit_ts_micros: -5,
            },
        ),
        (
            Msg::new(b'O').u64(99).cstr("node_a").bytes(),
            PgOutputMessage::Origin {
                commit_lsn: 99,
                name: "node_a".to_owned(),
            },
        ),
        (
            Msg::new(b'R')
                .u32(16_384)
                .cstr("public")
                .cstr("orders")
                .u8(b'd')
                .i16(3)
                .u8(1)
                .cstr("id")
                .u32(23)
                .i32(-1)
                .u8(0)
                .cstr("note")
                .u32(1043)
                .i32(104)
                .u8(0)
                .cstr("mood")
                .u32(90_001)
                .i32(-1)
                .bytes(),
            PgOutputMessage::Relation(Relation {
                id: 16_384,
                namespace: "public".to_owned(),
                name: "orders".to_owned(),
                replica_identity: b'd',
                columns: vec![
                    RelationColumn {
                        is_key: true,
                        name: "id".to_owned(),
                        type_oid: 23,
                        type_modifier: -1,
                    },
                    RelationColumn {
                        is_key: false,
                        name: "note".to_owned(),
                        type_oid: 1043,
                        type_modifier: 104,
                    },
                    RelationColumn {
                        is_key: false,
                        name: "mood".to_owned(),
                        type_oid: 90_001,
                        type_modifier: -1,
                    },
                ],
            }),
        ),
        (
            Msg::new(b'Y')
                .u32(90_001)
                .cstr("public")
                .cstr("mood")
                .bytes(),
            PgOutputMessage::Type {
                oid: 90_001,
                namespace: "public".to_owned(),
                name: "mood".to_owned(),
            },
        ),
        (
            Msg::new(b'I')
                .u32(16_384)
                .u8(b'N')
                .tuple(&all_kinds())
                .bytes(),
            PgOutputMessage::Insert {
                relation_id: 16_384,
                new: all_kinds(),
            },
        ),
        (
            Msg::new(b'U').u32(1).u8(b'N').tuple(&new).bytes(),
            PgOutputMessage::Update {
                relation_id: 1,
                old: None,
                old_is_key: false,
                new: new.clone(),
            },
        ),
        (
            Msg::new(b'U')
                .u32(2)
                .u8(b'K')
                .tuple(&key)
                .u8(b'N')
                .tuple(&new)
                .bytes(),
            PgOutputMessage::Update {
                relation_id: 2,
                old: Some(key.clone()),
                old_is_key: true,
                new: new.clone(),
            },
        ),
        (
            Msg::new(b'U')
                .u32(3)
                .u8(b'O')
                .tuple(&old_full)
                .u8(b'N')
                .tuple(&new)
                .bytes(),
            PgOutputMessage::Update {
                relation_id: 3,
                old: Some(old_full.clone()),
                old_is_key: false,
                new: new.clone(),
            },
        ),
        (
            Msg::new(b'D').u32(4).u8(b'K').tuple(&key).bytes(),
            PgOutputMessage::Delete {
                relation_id: 4,
                old: key.clone(),
                old_is_key: true,
            },
        ),
        (
            Msg::new(b'D').u32(5).u8(b'O').tuple(&old_full).bytes(),
            PgOutputMessage::Delete {
                relation_id: 5,
                old: old_full.clone(),
                old_is_key: false,
            },
        ),
        (
            Msg::new(b'T').i32(2).u8(3).u32(10).u32(11).bytes(),
            PgOutputMessage::Truncate {
                relation_ids: vec![10, 11],
                cascade: true,
                restart_identity: true,
            },
        ),
        (
            Msg::new(b'M')
                .u8(1)
                .u64(0xabc)
                .cstr("audit")
                .i32(3)
                .raw(b"a\0b")
                .bytes(),
            PgOutputMessage::Message {
                transactional: true,
                lsn: 0xabc,
                prefix: "audit".to_owned(),
                content: Bytes::from_static(b"a\0b"),
            },
        ),
    ]
}

#[test]
fn decodes_every_message_type() {
    for (bytes, expected) in samples() {
        assert_eq!(decode(&bytes).unwrap(), expected, "message {:?}", bytes);
    }
}

#[test]
fn every_truncated_prefix_is_an_error_not_a_panic() {
    for (bytes, _) in samples() {
        for len in 0..bytes.len() {
            let err = decode(&bytes[..len]).unwrap_err();
            if len > 0 {
                assert_eq!(err.message_type(), Some(bytes[0]));
                assert!(err.offset() <= len, "offset {} > {len}", err.offset());
                assert!(
                    err.to_string().starts_with("truncated "),
                    "prefix {len} of {bytes:?}: {err}"
                );
            }
        }
    }
}

#[test]
fn trailing_bytes_are_rejected() {
    for (mut bytes, _) in samples() {
        bytes.push(0);
        let err = decode(&bytes).unwrap_err();
        assert!(err.to_string().contains("trailing"), "{err}");
    }
}

#[test]
fn truncation_error_names_message_offset_and_shortfall() {
    let full = Msg::new(b'I')
        .u32(1)
        .u8(b'N')
        .tuple(&[text("abcd")])
        .bytes();
    // Tag(1) + relid(4) + 'N'(1) + count(2) + kind(1) = 9: the length is cut.
    let err = decode(&full[..9]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "truncated Insert at byte 9: expected 4 more bytes"
    );
    let err = decode(&full[..full.len() - 1]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "truncated Insert at byte 13: expected 1 more byte"
    );
}

#[test]
fn unknown_message_type_is_named() {
    let err = decode(b"X\0\0").unwrap_err();
    assert_eq!(err.message_type(), Some(b'X'));
    assert_eq!(err.offset(), 0);
    assert!(err.to_string().contains("'X' (0x58)"), "{err}");
    let err = decode(&[0x01]).unwrap_err();
    assert!(err.to_string().contains("0x01"), "{err}");
}

#[test]
fn empty_buffer_is_an_error() {
    let err = decode(&[]).unwrap_err();
    assert_eq!(err.message_type(), None);
}

#[test]
fn invalid_utf8_text_value_names_the_column() {
    let bytes = Msg::new(b'I')
        .u32(1)
        .u8(b'N')
        .i16(2)
        .u8(b'n')
        .u8(b't')
        .i32(2)
        .raw(&[b'a', 0xff])
        .bytes();
    let err = decode(&bytes).unwrap_err();
    let msg = err.to_string();
    assert!(msg.starts_with("invalid Insert"), "{msg}");
    assert!(msg.contains("column 1"), "{msg}");
    assert_eq!(err.offset(), 15);
}

#[test]
fn invalid_utf8_name_is_an_error() {
    let bytes = Msg::new(b'O').u64(1).raw(&[0xc3, 0x28, 0]).bytes();
    let err = decode(&bytes).unwrap_err();
    assert!(err.to_string().contains("origin name"), "{err}");
}

#[test]
fn unknown_tuple_value_kind_is_an_error() {
    let bytes = Msg::new(b'I').u32(1).u8(b'N').i16(1).u8(b'z').bytes();
    let err = decode(&bytes).unwrap_err();
    assert!(err.to_string().contains("column 0"), "{err}");
    assert!(err.to_string().contains("'z'"), "{err}");
}

#[test]
fn wrong_tuple_tags_are_errors() {
    let insert_with_k = Msg::new(b'I').u32(1).u8(b'K').tuple(&[]).bytes();
    assert!(decode(&insert_with_k).is_err());
    let delete_with_n = Msg::new(b'D').u32(1).u8(b'N').tuple(&[]).bytes();
    assert!(decode(&delete_with_n).is_err());
    let update_old_without_new = Msg::new(b'U')
        .u32(1)
        .u8(b'K')
        .tuple(&[])
        .u8(b'K')
        .tuple(&[])
        .bytes();
    let err = decode(&update_old_without_new).unwrap_err();
    assert!(err.to_string().contains("'N'"), "{err}");
}

#[test]
fn negative_counts_and_lengths_are_errors() {
    let negative_columns = Msg::new(b'R')
        .u32(1)
        .cstr("")
        .cstr("t")
        .u8(b'f')
        .i16(-1)
        .bytes();
    assert!(decode(&negative_columns).is_err());
    let negative_len = Msg::new(b'I')
        .u32(1)
        .u8(b'N')
        .i16(1)
        .u8(b'b')
        .i32(-1)
        .bytes();
    assert!(decode(&negative_len).is_err());
    let negative_truncate = Msg::new(b'T').i32(-2).u8(0).bytes();
    assert!(decode(&negative_truncate).is_err());
}

#[test]
fn huge_counts_fail_without_allocating_them() {
    let bytes = Msg::new(b'T').i32(i32::MAX).u8(0).u32(1).bytes();
    assert!(decode(&bytes)
        .unwrap_err()
        .to_string()
        .starts_with("truncated"));
    let bytes = Msg::new(b'I')
        .u32(1)
        .u8(b'N')
        .i16(1)
        .u8(b't')
        .i32(i32::MAX)
        .bytes();
    assert!(decode(&bytes).is_err());
}

#[test]
fn truncate_flags_are_decoded_separately() {
    for (options, cascade, restart_identity) in
        [(0, false, false), (1, true, false), (2, false, true)]
    {
        let bytes = Msg::new(b'T').i32(1).u8(options).u32(7).bytes();
        assert_eq!(
            decode(&bytes).unwrap(),
            PgOutputMessage::Truncate {
                relation_ids: vec![7],
                cascade,
                restart_identity,
            }
        );
    }
}

#[test]
fn non_transactional_message_and_empty_relation() {
    let bytes = Msg::new(b'M').u8(0).u64(1).cstr("").i32(0).bytes();
    assert_eq!(
        decode(&bytes).unwrap(),
        PgOutputMessage::Message {
            transactional: false,
            lsn: 1,
            prefix: String::new(),
            content: Bytes::new(),
        }
    );
    let bytes = Msg::new(b'R')
        .u32(9)
        .cstr("")
        .cstr("t")
        .u8(b'n')
        .i16(0)
        .bytes();
    let PgOutputMessage::Relation(rel) = decode(&bytes).unwrap() else {
        panic!("not a relation");
    };
    assert!(rel.columns.is_empty());
    assert_eq!(rel.namespace, "");
    assert_eq!(rel.replica_identity, b'n');
}

#[test]
fn arbitrary_bytes_never_panic() {
    // A cheap deterministic fuzz: mutate every byte of every sample.
    for (bytes, _) in samples() {
        for i in 0..bytes.len() {
            for v in [0u8, 1, 0x7f, 0x80, 0xff, b'n', b't', b'N'] {
                let mut mutated = bytes.clone();
                mutated[i] = v;
                let _ = decode(&mutated);
            }
        }
    }
}
