//! SecLang rules as data: variables and their selectors, operators, actions.
//!
//! [`Rule::from_directive`] turns one parsed `SecRule`/`SecAction` into a [`Rule`]; the
//! evaluator compiles operators and selectors separately so this stays plain data.
//! This file holds [`Rule`] and the operator split; targets live in `vars`, actions in
//! `actions`, both re-exported here under their old paths.

mod actions;
mod vars;

pub use actions::{parse_id_range, Actions, Ctl, RemovedTargets, SetVar, SetVarOp};
pub use vars::{add_target, parse_targets, SelectorSpec, TargetSpec, Targets, Var};

/// One link of a rule: targets, operator, actions; `next` is the chained link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub file: String,
    pub line: usize,
    pub targets: Targets,
    /// Operator name without `@` (lowercase), `None` for SecAction.
    pub op: Option<String>,
    pub op_arg: String,
    pub negated: bool,
    pub actions: Actions,
    pub next: Option<Box<Rule>>,
}

/// Splits an operator string: `!@rx x` -> (true, "rx", "x"); bare text is `@rx`.
pub fn parse_operator(text: &str) -> (bool, String, String) {
    let t = text.trim_start();
    let (neg, t) = match t.strip_prefix('!') {
        Some(r) => (true, r.trim_start()),
        None => (false, t),
    };
    match t.strip_prefix('@') {
        Some(r) => {
            let (name, arg) = match r.split_once(|c: char| c.is_whitespace()) {
                Some((n, a)) => (n, a.trim_start()),
                None => (r, ""),
            };
            (neg, name.to_ascii_lowercase(), arg.to_string())
        }
        None => (neg, "rx".to_string(), t.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::super::transform::Transform;
    use super::*;

    #[test]
    fn targets_with_regex_selectors_exclusions_and_counts() {
        let t = parse_targets("REQUEST_COOKIES|!REQUEST_COOKIES:/__utm|x/|ARGS:Foo|&TX:y")
            .expect("parses");
        assert_eq!(t.include.len(), 3);
        assert_eq!(
            t.exclude[0].selector,
            Some(SelectorSpec::Regex("__utm|x".into()))
        );
        assert_eq!(
            t.include[1].selector,
            Some(SelectorSpec::Name("foo".into()))
        );
        assert!(t.include[2].count);
        assert!(parse_targets("NOPE").is_err());
    }

    #[test]
    fn setvar_forms() {
        let s = SetVar::parse("tx.inbound_anomaly_score_pl1=+%{tx.critical_anomaly_score}")
            .expect("parses");
        assert_eq!(s.op, SetVarOp::Add);
        assert_eq!(s.value, "%{tx.critical_anomaly_score}");
        assert_eq!(SetVar::parse("!tx.a").expect("parses").op, SetVarOp::Delete);
        assert_eq!(SetVar::parse("tx.a=-2").expect("parses").op, SetVarOp::Sub);
        assert!(SetVar::parse("noDot").is_err());
    }

    #[test]
    fn actions_and_operators() {
        let a = Actions::parse("id:5,phase:request,t:lowercase,t:none,t:urlDecodeUni,chain,severity:'CRITICAL',tag:'paranoia-level/2',ctl:ruleRemoveTargetById=942100;ARGS:x").expect("parses");
        assert_eq!(a.phase, Some(2));
        assert_eq!(a.transforms, vec![Transform::UrlDecodeUni]);
        assert_eq!(a.severity, Some(2));
        assert_eq!(a.paranoia_level(), 2);
        assert_eq!(
            a.ctls[0],
            Ctl::RuleRemoveTargetById(942100, "ARGS:x".into())
        );
        assert!(Actions::parse("t:bogus").is_err());
        assert!(Actions::parse("frobnicate").is_err());
        assert_eq!(
            parse_operator("!@within  a b"),
            (true, "within".into(), "a b".into())
        );
        assert_eq!(parse_operator("^x$"), (false, "rx".into(), "^x$".into()));
    }

    #[test]
    fn target_removals_are_parsed_once_at_load() {
        let ctl =
            Ctl::parse("ruleRemoveTargetByTag=xss-perf-disable;REQUEST_FILENAME").expect("ctl");
        let Ctl::RuleRemoveTargetByTag(tag, targets) = ctl else {
            panic!("not a tag removal: {ctl:?}");
        };
        assert_eq!(&*tag, "xss-perf-disable");
        assert_eq!(targets.text, "REQUEST_FILENAME");
        assert_eq!(targets.specs.len(), 1);
        assert_eq!(targets.specs[0].var, Var::RequestFilename);
        assert_eq!(targets.specs[0].selector, None);

        let ctl = Ctl::parse("ruleRemoveTargetById=942100;ARGS:Password").expect("ctl");
        let Ctl::RuleRemoveTargetById(942100, targets) = ctl else {
            panic!("not an id removal: {ctl:?}");
        };
        assert_eq!(targets.specs[0].var, Var::Args);
        assert_eq!(
            targets.specs[0].selector,
            Some(SelectorSpec::Name("password".into()))
        );
        // A target that does not parse removes nothing, as before.
        let ctl = Ctl::parse("ruleRemoveTargetById=942100;NO_SUCH_VARIABLE").expect("ctl");
        let Ctl::RuleRemoveTargetById(_, targets) = ctl else {
            panic!("not an id removal: {ctl:?}");
        };
        assert!(targets.specs.is_empty());
    }
}
