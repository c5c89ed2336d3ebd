//! Constant TX macros: `%{tx.name}` references resolved to their text at load when no
//! rule after the request-independent prefix can write the name.
//!
//! CRS's operators and setvars read settings the initialization sets once
//! (`@within %{tx.allowed_methods}`, `=+%{tx.critical_anomaly_score}`,
//! `@ge %{tx.inbound_anomaly_score_threshold}`). Such a name holds the prefix's value in
//! every transaction (or is absent, expanding to nothing), so its text replaces the
//! reference: no TX lookup by name and no copy of a long list per expansion. An
//! operator left with a literal argument depends on nothing but its input value, so its
//! link becomes pure and its misses are remembered like a regex's (911100's method
//! check, 920430's protocol check are then skipped on a warm worker). Which names may
//! be written is [`super::fold::Written`]: setvar names (by literal prefix when built)
//! and the captures TX:0-9.

use super::super::operator::{MacroPart, MacroText, MacroVar, Operator};
use super::fold::Written;
use super::txmap::TxMap;
use super::Program;
use crate::detect::crs::model::Var;

impl Program {
    /// Resolves the constant TX macros of the rules after the prefix (operators and
    /// setvars) and marks the links whose operator became value-only as pure. The
    /// memo numbering must be redone afterwards (`number::number_links`).
    pub(super) fn resolve_constants(&mut self) {
        let (written, later) = self.written_after_prefix();
        let base = &self.prefix.tx;
        for ri in later {
            let Some(rule) = self.c.rules.get_mut(ri as usize) else {
                continue;
            };
            for link in &mut rule.links {
                if let Some(Operator::Str(_, m)) | Some(Operator::Num(_, m)) = &mut link.op {
                    resolve(m, &written, base);
                }
                for sv in &mut link.setvars {
                    resolve(&mut sv.name, &written, base);
                    resolve(&mut sv.value, &written, base);
                }
                link.pure = link.op.as_ref().is_some_and(Operator::value_only);
            }
        }
    }
}

/// Replaces the constant TX references of `m` by their text (the base's value, or
/// nothing for an absent name) and joins adjacent literal runs, so a text left without
/// references is one literal ([`MacroText::literal`]).
pub(super) fn resolve(m: &mut MacroText, written: &Written, base: &TxMap) {
    let mut parts: Vec<MacroPart> = Vec::with_capacity(m.parts.len());
    for p in std::mem::take(&mut m.parts) {
        let lit = match &p {
            MacroPart::Lit(l) => Some(l.clone()),
            MacroPart::Var(MacroVar::Var(Var::Tx, Some(k))) if !written.may_write(k.as_bytes()) => {
                Some(base.get(k.as_bytes()).unwrap_or_default().to_vec())
            }
            MacroPart::Var(_) => None,
        };
        match (lit, parts.last_mut()) {
            (Some(l), _) if l.is_empty() => {}
            (Some(l), Some(MacroPart::Lit(prev))) => prev.extend_from_slice(&l),
            (Some(l), _) => parts.push(MacroPart::Lit(l)),
            (None, _) => parts.push(p),
        }
    }
    m.parts = parts;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(parts: &MacroText) -> Vec<String> {
        parts
            .parts
            .iter()
            .map(|p| match p {
                MacroPart::Lit(l) => format!("lit:{}", String::from_utf8_lossy(l)),
                MacroPart::Var(MacroVar::Var(v, k)) => format!("var:{v:?}.{k:?}"),
                MacroPart::Var(_) => "other".into(),
            })
            .collect()
    }

    #[test]
    fn constant_names_become_text_and_written_ones_stay() {
        let mut base = TxMap::default();
        base.set(b"allowed_methods", b"GET HEAD");
        base.set(b"score", b"0");
        let mut written = Written::default();
        written.add(&MacroText::parse("score"));
        written.add(&MacroText::parse("header_%{tx.0}"));

        let mut m = MacroText::parse("%{tx.allowed_methods}");
        resolve(&mut m, &written, &base);
        assert_eq!(m.literal(), Some(&b"GET HEAD"[..]));

        // Absent and never written: nothing, joined with the literals around it.
        let mut m = MacroText::parse("a %{tx.unset} b");
        resolve(&mut m, &written, &base);
        assert_eq!(m.literal(), Some(&b"a  b"[..]));

        // Written after the prefix (exactly or by a built name's prefix): kept.
        let mut m = MacroText::parse("+%{tx.score}/%{tx.header_host}");
        resolve(&mut m, &written, &base);
        assert_eq!(m.literal(), None);
        assert_eq!(
            text(&m),
            vec![
                "lit:+".to_string(),
                "var:Tx.Some(\"score\")".into(),
                "lit:/".into(),
                "var:Tx.Some(\"header_host\")".into()
            ]
        );

        // Other collections are never resolved.
        let mut m = MacroText::parse("%{request_headers.host}");
        resolve(&mut m, &written, &base);
        assert_eq!(m.literal(), None);
    }
}
