//! The read side of [`super::FieldValues`]: a field's values as borrowed views of the
//! shared buffer (a value is a span of it), so rules read them without a copy.

/// One value of a field, borrowed from its [`FieldValues`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Value<'a> {
    /// Lowercased bytes (the rule set's regex gates search them without case
    /// folding).
    pub bytes: &'a [u8],
    /// The upload part this value came from, if any.
    pub upload: Option<usize>,
}

/// Where a value's bytes lie in the shared buffer.
#[derive(Debug, Clone, Copy)]
pub(super) struct Span {
    pub(super) start: usize,
    pub(super) end: usize,
    pub(super) upload: Option<usize>,
}

/// The values of one field, in the order they were pushed.
#[derive(Debug, Clone, Copy)]
pub struct Values<'a> {
    pub(super) bytes: &'a [u8],
    pub(super) spans: &'a [Span],
}

impl<'a> Values<'a> {
    /// How many values.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Value `i`.
    pub fn get(&self, i: usize) -> Option<Value<'a>> {
        self.spans.get(i).map(|s| self.value(s))
    }

    /// The first value.
    pub fn first(&self) -> Option<Value<'a>> {
        self.get(0)
    }

    /// Every value, in order.
    pub fn iter(&self) -> ValuesIter<'a> {
        ValuesIter {
            bytes: self.bytes,
            spans: self.spans.iter(),
        }
    }

    fn value(&self, s: &Span) -> Value<'a> {
        Value {
            bytes: self.bytes.get(s.start..s.end).unwrap_or_default(),
            upload: s.upload,
        }
    }
}

/// The values of a field, in order (a named type: it borrows without needing drop).
#[derive(Debug, Clone)]
pub struct ValuesIter<'a> {
    bytes: &'a [u8],
    spans: std::slice::Iter<'a, Span>,
}

impl<'a> Iterator for ValuesIter<'a> {
    type Item = Value<'a>;

    fn next(&mut self) -> Option<Value<'a>> {
        self.spans.next().map(|s| Value {
            bytes: self.bytes.get(s.start..s.end).unwrap_or_default(),
            upload: s.upload,
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.spans.size_hint()
    }
}

impl<'a> IntoIterator for Values<'a> {
    type Item = Value<'a>;
    type IntoIter = ValuesIter<'a>;

    fn into_iter(self) -> ValuesIter<'a> {
        self.iter()
    }
}
