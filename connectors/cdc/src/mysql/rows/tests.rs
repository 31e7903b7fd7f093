#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

fn codec(ty: u8, meta: &[u8]) -> ColumnCodec {
    ColumnCodec {
        ty,
        meta: meta.to_vec(),
    }
}

#[test]
fn an_insert_image_decodes_ints_strings_and_nulls() {
    let codecs = [codec(3, &[]), codec(15, &[20, 0]), codec(1, &[])];
    let present = [true, true, true];
    // null bitmap: column 2 null; id = -2; varchar "hi"
    let data = [0b100, 0xfe, 0xff, 0xff, 0xff, 2, b'h', b'i'];
    let rows = decode_rows(&codecs, None, Some(&present), &data).unwrap();
    assert_eq!(
        rows,
        vec![RowImages {
            before: None,
            after: Some(vec![
                Some(Cell::Int(-2)),
                Some(Cell::Bytes(b"hi".to_vec())),
                Some(Cell::Null)
            ]),
        }]
    );
}

#[test]
fn decimals_are_exact_text() {
    // DECIMAL(10,2) 1234.56: intg 8 = 0 full groups + 8 digits (4 bytes), frac 2 digits (1 byte)
    let v: u32 = 1234;
    let mut bytes = v.to_be_bytes().to_vec();
    bytes.push(56);
    bytes[0] ^= 0x80;
    let mut data = vec![0u8];
    data.extend(&bytes);
    let rows = decode_rows(&[codec(246, &[10, 2])], None, Some(&[true]), &data).unwrap();
    assert_eq!(
        rows[0].after.as_ref().unwrap()[0],
        Some(Cell::Bytes(b"1234.56".to_vec()))
    );
    // negative: all bits inverted
    let neg: Vec<u8> = bytes.iter().map(|b| !b).collect();
    let mut data = vec![0u8];
    data.extend(&neg);
    let rows = decode_rows(&[codec(246, &[10, 2])], None, Some(&[true]), &data).unwrap();
    assert_eq!(
        rows[0].after.as_ref().unwrap()[0],
        Some(Cell::Bytes(b"-1234.56".to_vec()))
    );
}

#[test]
fn truncated_images_and_bad_metadata_are_errors() {
    assert_eq!(
        decode_rows(&[codec(8, &[])], None, Some(&[true]), &[0, 1, 2]),
        Err(DecodeError::Truncated { column: 0 })
    );
    assert_eq!(
        decode_rows(&[codec(254, &[])], None, Some(&[true]), &[0, 1]),
        Err(DecodeError::BadMetadata { column: 0 })
    );
    assert!(matches!(
        decode_rows(&[codec(200, &[])], None, Some(&[true]), &[0, 1]),
        Err(DecodeError::UnknownType { ty: 200, .. })
    ));
    assert!(matches!(
        decode_rows(&[codec(3, &[])], None, Some(&[true, true]), &[0]),
        Err(DecodeError::ColumnCount { .. })
    ));
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    const TYPES: [u8; 30] = [
        1, 2, 3, 4, 5, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 243, 245, 246, 247, 248,
        249, 250, 251, 252, 253, 254, 255,
    ];

    fn codecs() -> impl Strategy<Value = Vec<ColumnCodec>> {
        prop::collection::vec(
            (
                prop::sample::select(TYPES.to_vec()),
                prop::collection::vec(any::<u8>(), 0..3),
            )
                .prop_map(|(ty, meta)| ColumnCodec { ty, meta }),
            1..8,
        )
    }

    proptest! {
        /// Any bytes under any table map: a result or an error, never a panic.
        #[test]
        fn arbitrary_row_data_never_panics(
            codecs in codecs(),
            data in prop::collection::vec(any::<u8>(), 0..256),
            before in any::<bool>(),
        ) {
            let present = vec![true; codecs.len()];
            let b = before.then_some(present.as_slice());
            let _ = decode_rows(&codecs, b, Some(&present), &data);
        }

        /// Cutting a valid image anywhere is an error, never a panic or a wrong row.
        #[test]
        fn truncated_valid_images_fail(v in any::<i64>(), s in "[a-z]{0,40}", cut in 0usize..60) {
            let codecs = [codec(8, &[]), codec(15, &[100, 0])];
            let mut data = vec![0u8];
            data.extend(v.to_le_bytes());
            data.push(s.len() as u8);
            data.extend(s.as_bytes());
            let full = decode_rows(&codecs, None, Some(&[true, true]), &data).unwrap();
            prop_assert_eq!(full[0].after.clone().unwrap(), vec![Some(Cell::Int(v)), Some(Cell::Bytes(s.clone().into_bytes()))]);
            if cut < data.len() && cut > 0 {
                prop_assert!(decode_rows(&codecs, None, Some(&[true, true]), &data[..cut]).is_err());
            }
        }
    }
}
