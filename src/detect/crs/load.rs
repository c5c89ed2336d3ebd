//! Reads a CRS v4 directory into an ordered list of rules and markers.
//!
//! Order: `crs-setup.conf` (or `crs-setup.conf.example`), then a synthetic SecAction
//! with the configured paranoia levels, threshold and `tx.*` overrides (what an operator
//! would write in crs-setup.conf), then `rules/REQUEST-*.conf` and the operator's
//! `RESPONSE-999-*.conf` in name order. Response-phase files are skipped: this engine
//! runs phases 1 and 2. `@pmFromFile` lists are read beside the rule file.
//! `SecRuleRemove*` and `SecRuleUpdateTarget*` and the configured exclusions apply
//! after every file is read.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use super::model::{self, parse_id_range, parse_operator, Actions, Rule};
use super::parse::{directives, Directive};
use super::{CrsError, CrsSettings};

/// One entry of the rule list.
#[derive(Debug, Clone)]
pub enum Item {
    Rule(Box<Rule>),
    Marker(String),
}

/// Directives accepted and ignored (engine settings that do not change a passive
/// request-phase evaluation).
const IGNORED_DIRECTIVES: &[&str] = &[
    "seccomponentsignature",
    "secruleengine",
    "secrequestbodyaccess",
    "secresponsebodyaccess",
    "secrequestbodylimit",
    "secrequestbodynofileslimit",
    "secrequestbodyinmemorylimit",
    "secrequestbodylimitaction",
    "secresponsebodylimit",
    "secresponsebodylimitaction",
    "secresponsebodymimetype",
    "secresponsebodymimetypesclear",
    "secargumentseparator",
    "seccookieformat",
    "secunicodemapfile",
    "secstatusengine",
    "secauditengine",
    "secauditlog",
    "secauditlogparts",
    "secauditlogtype",
    "secauditlogformat",
    "secauditlogstoragedir",
    "secauditlogrelevantstatus",
    "secdebuglog",
    "secdebugloglevel",
    "sectmpdir",
    "secdatadir",
    "seccollectiontimeout",
    "secpcrematchlimit",
    "secpcrematchlimitrecursion",
    "secargumentslimit",
    "secuploaddir",
    "secuploadkeepfiles",
    "secuploadfilemode",
    "secuploadfilelimit",
    "secxmlexternalentity",
    "sectmpsaveuploadedfiles",
    "secgeolookupdb",
    "sechttpblkey",
    "secservertokens",
    "secconnengine",
    "secwebappid",
    "secsensorid",
    "secinterceptonerror",
    "secruleinheritance",
    "secrequestbodyjsondepthlimit",
    "secparsexmlintoargs",
];

/// A rule or target edit applied after all files are read.
#[derive(Debug)]
enum Edit {
    RemoveId(u32, u32),
    RemoveTag(String),
    RemoveMsg(String),
    TargetsById(u32, u32, String),
    TargetsByTag(String, String),
}

/// Reads the CRS at `settings.path`.
pub fn load(settings: &CrsSettings) -> Result<Vec<Item>, CrsError> {
    let dir = &settings.path;
    let rules_dir = dir.join("rules");
    if !rules_dir.is_dir() {
        return Err(CrsError::Settings(format!(
            "{}: not a CRS directory (no rules/)",
            dir.display()
        )));
    }
    let mut items = Vec::new();
    let mut edits = Vec::new();
    let setup = [
        dir.join("crs-setup.conf"),
        dir.join("crs-setup.conf.example"),
    ]
    .into_iter()
    .find(|p| p.is_file());
    if let Some(p) = setup {
        read_file(&p, &mut items, &mut edits)?;
    }
    items.push(Item::Rule(Box::new(settings_rule(settings)?)));
    let mut files: Vec<PathBuf> = std::fs::read_dir(&rules_dir)
        .map_err(|source| CrsError::Io {
            path: rules_dir.display().to_string(),
            source,
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name.ends_with(".conf")
                && (name.starts_with("REQUEST-") || name.starts_with("RESPONSE-999"))
        })
        .collect();
    files.sort();
    for f in &files {
        read_file(f, &mut items, &mut edits)?;
    }
    for ex in &settings.exclusions {
        match (ex.id, &ex.tag, &ex.target) {
            (Some(id), _, Some(t)) => edits.push(Edit::TargetsById(id, id, format!("!{t}"))),
            (Some(id), _, None) => edits.push(Edit::RemoveId(id, id)),
            (None, Some(tag), Some(t)) => {
                edits.push(Edit::TargetsByTag(tag.clone(), format!("!{t}")))
            }
            (None, Some(tag), None) => edits.push(Edit::RemoveTag(tag.clone())),
            (None, None, _) => {
                return Err(CrsError::Settings(
                    "crs.exclusions: each entry needs an id or a tag".into(),
                ))
            }
        }
    }
    apply_edits(&mut items, edits)?;
    Ok(items)
}

/// The synthetic SecAction carrying the configured settings.
fn settings_rule(s: &CrsSettings) -> Result<Rule, CrsError> {
    if !(1..=4).contains(&s.paranoia_level) || !(1..=4).contains(&s.detection_paranoia_level) {
        return Err(CrsError::Settings("crs.paranoia_level must be 1-4".into()));
    }
    let mut text = format!(
        "id:900000,phase:1,pass,nolog,setvar:tx.blocking_paranoia_level={},setvar:tx.detection_paranoia_level={},setvar:tx.inbound_anomaly_score_threshold={}",
        s.paranoia_level,
        s.detection_paranoia_level.max(s.paranoia_level),
        s.inbound_threshold
    );
    for (k, v) in &s.tx_overrides {
        if k.contains([',', '\'', '=']) || v.contains([',', '\'']) {
            return Err(CrsError::Settings(format!("bad tx override {k}={v}")));
        }
        text.push_str(&format!(",setvar:'tx.{k}={v}'"));
    }
    let actions = Actions::parse(&text).map_err(CrsError::Settings)?;
    Ok(Rule {
        file: "<settings>".into(),
        line: 0,
        targets: model::Targets {
            include: Vec::new(),
            exclude: Vec::new(),
        },
        op: None,
        op_arg: String::new(),
        negated: false,
        actions,
        next: None,
    })
}

fn read_file(path: &Path, items: &mut Vec<Item>, edits: &mut Vec<Edit>) -> Result<(), CrsError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| CrsError::Io {
        path: file.clone(),
        source,
    })?;
    let base = path.parent().unwrap_or(Path::new("."));
    let mut chain_open = false;
    for d in directives(&text, &file)? {
        let err = |reason: String| CrsError::Parse {
            file: file.clone(),
            line: d.line,
            reason,
        };
        let lname = d.name.to_ascii_lowercase();
        match lname.as_str() {
            "secrule" | "secaction" => {
                let rule = build_rule(&d, &file, base).map_err(err)?;
                let chains = rule.actions.chain;
                if chain_open {
                    attach_link(items, rule);
                } else {
                    items.push(Item::Rule(Box::new(rule)));
                }
                chain_open = chains;
            }
            _ if chain_open => {
                return Err(err(format!("{} inside an open chain", d.name)));
            }
            "secmarker" => {
                let name = d
                    .args
                    .first()
                    .ok_or_else(|| err("SecMarker needs a name".into()))?;
                items.push(Item::Marker(name.clone()));
            }
            "secdefaultaction" => {
                let a = d.args.first().ok_or_else(|| err("needs actions".into()))?;
                Actions::parse(a).map_err(err)?;
            }
            "secruleremovebyid" => {
                for a in &d.args {
                    let (x, y) = parse_id_range(a).map_err(err)?;
                    edits.push(Edit::RemoveId(x, y));
                }
            }
            "secruleremovebytag" => {
                let a = d.args.first().ok_or_else(|| err("needs a tag".into()))?;
                edits.push(Edit::RemoveTag(a.clone()));
            }
            "secruleremovebymsg" => {
                let a = d
                    .args
                    .first()
                    .ok_or_else(|| err("needs a message".into()))?;
                edits.push(Edit::RemoveMsg(a.clone()));
            }
            "secruleupdatetargetbyid" => {
                let (id, t) = two_args(&d).map_err(err)?;
                for part in id.split(|c: char| c == ',' || c.is_whitespace()) {
                    if part.is_empty() {
                        continue;
                    }
                    let (x, y) = parse_id_range(part).map_err(err)?;
                    model::parse_targets(t).map_err(err)?;
                    edits.push(Edit::TargetsById(x, y, t.to_string()));
                }
            }
            "secruleupdatetargetbytag" => {
                let (tag, t) = two_args(&d).map_err(err)?;
                model::parse_targets(t).map_err(err)?;
                edits.push(Edit::TargetsByTag(tag.to_string(), t.to_string()));
            }
            "secruleupdateactionbyid" => {}
            n if IGNORED_DIRECTIVES.contains(&n) => {}
            _ => return Err(err(format!("unknown directive {}", d.name))),
        }
    }
    if chain_open {
        return Err(CrsError::Parse {
            file,
            line: text.lines().count(),
            reason: "file ends inside a chain".into(),
        });
    }
    Ok(())
}

fn two_args(d: &Directive) -> Result<(&str, &str), String> {
    match d.args.as_slice() {
        [a, b, ..] => Ok((a, b)),
        _ => Err(format!("{} needs two arguments", d.name)),
    }
}

fn attach_link(items: &mut [Item], rule: Rule) {
    if let Some(Item::Rule(head)) = items.last_mut() {
        let mut slot = &mut head.next;
        while let Some(n) = slot {
            slot = &mut n.next;
        }
        *slot = Some(Box::new(rule));
    }
}

fn build_rule(d: &Directive, file: &str, base: &Path) -> Result<Rule, String> {
    let secaction = d.name.eq_ignore_ascii_case("secaction");
    let (targets, op_text, actions) = if secaction {
        (None, None, d.args.first().map(String::as_str).unwrap_or(""))
    } else {
        match d.args.as_slice() {
            [t, o] => (Some(t.as_str()), Some(o.as_str()), ""),
            [t, o, a, ..] => (Some(t.as_str()), Some(o.as_str()), a.as_str()),
            _ => return Err("SecRule needs targets and an operator".into()),
        }
    };
    let targets = match targets {
        Some(t) => model::parse_targets(t)?,
        None => model::Targets {
            include: Vec::new(),
            exclude: Vec::new(),
        },
    };
    let actions = Actions::parse(actions)?;
    let (negated, op, mut op_arg) = match op_text {
        Some(o) => {
            let (n, name, arg) = parse_operator(o);
            (n, Some(name), arg)
        }
        None => (false, None, String::new()),
    };
    if matches!(op.as_deref(), Some("pmfromfile") | Some("pmf")) {
        let mut words = String::new();
        for f in op_arg.split_whitespace() {
            let p = base.join(f);
            let text = std::fs::read_to_string(&p)
                .map_err(|e| format!("@pmFromFile {}: {e}", p.display()))?;
            for l in text.lines() {
                let l = l.trim();
                if !l.is_empty() && !l.starts_with('#') {
                    words.push_str(l);
                    words.push('\n');
                }
            }
        }
        op_arg = words;
    }
    if op.as_deref() == Some("rx") {
        if let Cow::Owned(bytes) = super::pcre::byte_escapes(&op_arg) {
            op_arg = bytes;
        }
    }
    Ok(Rule {
        file: file.to_string(),
        line: d.line,
        targets,
        op,
        op_arg,
        negated,
        actions,
        next: None,
    })
}

fn apply_edits(items: &mut Vec<Item>, edits: Vec<Edit>) -> Result<(), CrsError> {
    for e in edits {
        match e {
            Edit::RemoveId(a, b) => items.retain(|i| match i {
                Item::Rule(r) => !r.actions.id.is_some_and(|id| id >= a && id <= b),
                Item::Marker(_) => true,
            }),
            Edit::RemoveTag(t) => items.retain(|i| match i {
                Item::Rule(r) => !r.actions.tags.iter().any(|x| x == &t),
                Item::Marker(_) => true,
            }),
            Edit::RemoveMsg(m) => items.retain(|i| match i {
                Item::Rule(r) => r.actions.msg.as_deref() != Some(m.as_str()),
                Item::Marker(_) => true,
            }),
            Edit::TargetsById(a, b, t) => {
                for i in items.iter_mut() {
                    if let Item::Rule(r) = i {
                        if r.actions.id.is_some_and(|id| id >= a && id <= b) {
                            add_targets(r, &t)?;
                        }
                    }
                }
            }
            Edit::TargetsByTag(tag, t) => {
                for i in items.iter_mut() {
                    if let Item::Rule(r) = i {
                        if r.actions.tags.iter().any(|x| x == &tag) {
                            add_targets(r, &t)?;
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

fn add_targets(r: &mut Rule, text: &str) -> Result<(), CrsError> {
    let extra = model::parse_targets(text).map_err(|reason| CrsError::Parse {
        file: r.file.clone(),
        line: r.line,
        reason,
    })?;
    r.targets.include.extend(extra.include);
    r.targets.exclude.extend(extra.exclude);
    Ok(())
}
