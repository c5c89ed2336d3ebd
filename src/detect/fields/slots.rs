//! Where each field's values sit in the per-transaction table: fixed fields in the
//! order of their names' table, header fields after them.

use super::Field;
#[cfg(test)]
use super::FIXED_FIELDS;

impl Field {
    /// Index into the per-transaction value table: a fixed field's position in
    /// [`FIXED_FIELDS`] (its first name's), a header field's after the fixed ones.
    /// A `match`, not a search of the table: every pushed and every read value asks.
    pub fn slot(self, fixed: usize) -> usize {
        match self {
            Field::Method => 0,
            Field::EffectiveMethod => 1,
            Field::UriRaw => 2,
            Field::PathRaw => 3,
            Field::PathDecoded => 4,
            Field::PathNormalized => 5,
            Field::PathExtension => 7,
            Field::QueryNames => 8,
            Field::QueryValues => 9,
            Field::BodyNames => 10,
            Field::BodyValues => 11,
            Field::Body => 12,
            Field::HeaderNames => 13,
            Field::HeaderValues => 14,
            Field::UserAgent => 15,
            Field::Host => 16,
            Field::RequestContentType => 17,
            Field::UploadFilename => 18,
            Field::UploadExtension => 19,
            Field::UploadExtensions => 20,
            Field::UploadContentType => 21,
            Field::UploadDetected => 22,
            Field::UploadSize => 23,
            Field::UploadContent => 24,
            Field::RequestBodyLen => 25,
            Field::Status => 26,
            Field::Src => 27,
            Field::Policy => 28,
            Field::Anomaly => 29,
            Field::Header(i) => fixed + usize::from(i),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The slot of every fixed field is its first position in the name table (as the
    /// table search it replaces gave), and header slots follow the fixed ones.
    #[test]
    fn slots_are_first_table_positions() {
        for (i, (name, field)) in FIXED_FIELDS.iter().enumerate() {
            let first = FIXED_FIELDS
                .iter()
                .position(|(_, f)| f == field)
                .expect("in the table");
            assert_eq!(field.slot(FIXED_FIELDS.len()), first, "{name}");
            assert!(first <= i);
        }
        assert_eq!(
            Field::Header(3).slot(Field::fixed_slots()),
            Field::fixed_slots() + 3
        );
    }
}
