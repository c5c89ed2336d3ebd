//! A rule's actions as data: `setvar`, the run-time `ctl:` actions, id ranges, and
//! [`Actions`] with its parser (ids, phase, chain, transformations, tags, scoring).

use super::super::transform::Transform;
use super::vars::{add_target, TargetSpec, Targets};
use std::sync::Arc;

/// One `setvar` action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetVarOp {
    Set,
    Add,
    Sub,
    Delete,
}

/// `setvar:tx.name=value` (name and value may hold `%{macros}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetVar {
    /// Collection (`tx`; others are accepted and ignored).
    pub collection: String,
    pub name: String,
    pub op: SetVarOp,
    pub value: String,
}

impl SetVar {
    /// Parses the text after `setvar:`.
    pub fn parse(text: &str) -> Result<SetVar, String> {
        let (delete, t) = match text.strip_prefix('!') {
            Some(r) => (true, r),
            None => (false, text),
        };
        let (lhs, rhs) = match t.split_once('=') {
            Some((l, r)) => (l, Some(r)),
            None => (t, None),
        };
        let (collection, name) = lhs
            .split_once('.')
            .ok_or_else(|| format!("setvar needs collection.name: {text}"))?;
        let (op, value) = match (delete, rhs) {
            (true, _) => (SetVarOp::Delete, String::new()),
            (false, None) => (SetVarOp::Set, "1".to_string()),
            (false, Some(r)) => {
                if let Some(v) = r.strip_prefix('+') {
                    (SetVarOp::Add, v.to_string())
                } else if let Some(v) = r.strip_prefix('-') {
                    (SetVarOp::Sub, v.to_string())
                } else {
                    (SetVarOp::Set, r.to_string())
                }
            }
        };
        Ok(SetVar {
            collection: collection.to_ascii_lowercase(),
            name: name.to_ascii_lowercase(),
            op,
            value,
        })
    }
}

/// The `ctl:` actions CRS uses at run time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ctl {
    RuleRemoveById(u32, u32),
    RuleRemoveByTag(String),
    RuleRemoveTargetById(u32, RemovedTargets),
    RuleRemoveTargetByTag(Arc<str>, RemovedTargets),
    RequestBodyProcessor(String),
    ForceRequestBodyVariable(bool),
    /// Accepted and ignored (auditEngine, ruleEngine, ...).
    Other,
}

/// The targets a `ruleRemoveTarget*` ctl names, parsed once at load: 941010 applies
/// its removal in nearly every request, and parsing it there cost allocations per
/// transaction. Shared (`Arc`), so applying a removal copies no string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemovedTargets {
    /// The text as written (`ARGS:x`).
    pub text: String,
    /// What it removes; empty when the text does not parse, which removes nothing.
    pub specs: Vec<Arc<TargetSpec>>,
}

impl From<&str> for RemovedTargets {
    fn from(text: &str) -> Self {
        let mut parsed = Targets {
            include: Vec::new(),
            exclude: Vec::new(),
        };
        let specs = match add_target(&mut parsed, text) {
            Ok(()) => parsed.include.into_iter().map(Arc::new).collect(),
            Err(_) => Vec::new(),
        };
        RemovedTargets {
            text: text.to_string(),
            specs,
        }
    }
}

impl Ctl {
    /// Parses the text after `ctl:`.
    pub fn parse(text: &str) -> Result<Ctl, String> {
        let (k, v) = text
            .split_once('=')
            .ok_or_else(|| format!("bad ctl: {text}"))?;
        Ok(match k.to_ascii_lowercase().as_str() {
            "ruleremovebyid" => {
                let (a, b) = parse_id_range(v)?;
                Ctl::RuleRemoveById(a, b)
            }
            "ruleremovebytag" => Ctl::RuleRemoveByTag(v.to_string()),
            "ruleremovetargetbyid" => {
                let (id, t) = v
                    .split_once(';')
                    .ok_or("ruleRemoveTargetById needs id;TARGET")?;
                let id = id.parse().map_err(|_| format!("bad rule id {id}"))?;
                Ctl::RuleRemoveTargetById(id, t.into())
            }
            "ruleremovetargetbytag" => {
                let (tag, t) = v
                    .split_once(';')
                    .ok_or("ruleRemoveTargetByTag needs tag;TARGET")?;
                Ctl::RuleRemoveTargetByTag(tag.into(), t.into())
            }
            "requestbodyprocessor" => Ctl::RequestBodyProcessor(v.to_ascii_uppercase()),
            "forcerequestbodyvariable" => {
                Ctl::ForceRequestBodyVariable(v.eq_ignore_ascii_case("on"))
            }
            "auditengine" | "auditlogparts" | "ruleengine" | "requestbodyaccess"
            | "responsebodyaccess" | "requestbodylimit" | "debugloglevel" | "hashengine"
            | "parseXmlIntoArgs" | "parsexmlintoargs" => Ctl::Other,
            _ => return Err(format!("unknown ctl {k}")),
        })
    }
}

/// `N` or `N-M`.
pub fn parse_id_range(v: &str) -> Result<(u32, u32), String> {
    let v = v.trim();
    match v.split_once('-') {
        Some((a, b)) => Ok((
            a.trim().parse().map_err(|_| format!("bad id {a}"))?,
            b.trim().parse().map_err(|_| format!("bad id {b}"))?,
        )),
        None => {
            let id = v.parse().map_err(|_| format!("bad id {v}"))?;
            Ok((id, id))
        }
    }
}

/// A rule's actions that matter to a passive engine.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Actions {
    pub id: Option<u32>,
    pub phase: Option<u8>,
    pub chain: bool,
    pub transforms: Vec<Transform>,
    /// `t:none` seen (drops default transformations).
    pub t_none: bool,
    pub setvars: Vec<SetVar>,
    pub skip_after: Option<String>,
    pub skip: u32,
    pub capture: bool,
    pub multi_match: bool,
    pub tags: Vec<String>,
    pub severity: Option<u8>,
    pub ctls: Vec<Ctl>,
    pub nolog: bool,
    pub msg: Option<String>,
}

impl Actions {
    /// Parses an action list.
    pub fn parse(text: &str) -> Result<Actions, String> {
        let mut a = Actions::default();
        for (name, value) in super::super::parse::actions(text)? {
            let v = value.as_deref().unwrap_or("");
            match name.to_ascii_lowercase().as_str() {
                "id" => a.id = Some(v.parse().map_err(|_| format!("bad id {v}"))?),
                "phase" => {
                    a.phase = Some(match v {
                        "request" => 2,
                        "response" => 4,
                        "logging" => 5,
                        n => n.parse().map_err(|_| format!("bad phase {n}"))?,
                    })
                }
                "chain" => a.chain = true,
                "t" => {
                    if v.eq_ignore_ascii_case("none") {
                        a.transforms.clear();
                        a.t_none = true;
                    } else {
                        a.transforms.push(
                            Transform::from_name(v)
                                .ok_or_else(|| format!("unknown transformation {v}"))?,
                        );
                    }
                }
                "setvar" => a.setvars.push(SetVar::parse(v)?),
                "skipafter" => a.skip_after = Some(v.to_string()),
                "skip" => a.skip = v.parse().map_err(|_| format!("bad skip {v}"))?,
                "capture" => a.capture = true,
                "multimatch" => a.multi_match = true,
                "tag" => a.tags.push(v.to_string()),
                "msg" => a.msg = Some(v.to_string()),
                "severity" => {
                    a.severity = Some(match v.to_ascii_uppercase().as_str() {
                        "EMERGENCY" => 0,
                        "ALERT" => 1,
                        "CRITICAL" => 2,
                        "ERROR" => 3,
                        "WARNING" => 4,
                        "NOTICE" => 5,
                        "INFO" => 6,
                        "DEBUG" => 7,
                        n => n.parse().map_err(|_| format!("bad severity {n}"))?,
                    })
                }
                "ctl" => a.ctls.push(Ctl::parse(v)?),
                "nolog" => a.nolog = true,
                "log"
                | "auditlog"
                | "noauditlog"
                | "pass"
                | "block"
                | "deny"
                | "drop"
                | "allow"
                | "status"
                | "logdata"
                | "rev"
                | "ver"
                | "maturity"
                | "accuracy"
                | "expirevar"
                | "initcol"
                | "setenv"
                | "setuid"
                | "setsid"
                | "sanitisematched"
                | "sanitisearg"
                | "sanitisematchedbytes"
                | "redirect"
                | "proxy"
                | "exec"
                | "append"
                | "prepend"
                | "deprecatevar"
                | "xmlns"
                | "multimatchx"
                | "msgx"
                | "pause" => {}
                other => return Err(format!("unknown action {other}")),
            }
        }
        Ok(a)
    }

    /// Paranoia level from a `paranoia-level/N` tag (1 when absent).
    pub fn paranoia_level(&self) -> u8 {
        self.tags
            .iter()
            .find_map(|t| t.strip_prefix("paranoia-level/"))
            .and_then(|n| n.parse().ok())
            .unwrap_or(1)
    }
}
