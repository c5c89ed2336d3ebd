//! SecLang rules as data: variables and their selectors, operators, actions.
//!
//! [`Rule::from_directive`] turns one parsed `SecRule`/`SecAction` into a [`Rule`]; the
//! evaluator compiles operators and selectors separately so this stays plain data.

use super::transform::Transform;

/// A variable (collection or scalar) a rule can inspect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Var {
    Args,
    ArgsGet,
    ArgsPost,
    ArgsNames,
    ArgsGetNames,
    ArgsPostNames,
    ArgsCombinedSize,
    RequestCookies,
    RequestCookiesNames,
    RequestHeaders,
    RequestHeadersNames,
    RequestFilename,
    RequestBasename,
    RequestUri,
    RequestUriRaw,
    RequestLine,
    RequestMethod,
    RequestProtocol,
    QueryString,
    RequestBody,
    RequestBodyLength,
    Files,
    FilesNames,
    FilesSizes,
    FilesCombinedSize,
    MultipartPartHeaders,
    MultipartStrictError,
    MultipartUnmatchedBoundary,
    ReqbodyProcessor,
    ReqbodyError,
    Xml,
    Tx,
    MatchedVar,
    MatchedVars,
    MatchedVarName,
    MatchedVarsNames,
    RemoteAddr,
    UniqueId,
    Duration,
    /// Anything a response phase or an unsupported feature uses: always empty.
    Empty,
}

impl Var {
    /// The variable named `name` (case-insensitive).
    pub fn from_name(name: &str) -> Option<Var> {
        use Var::*;
        Some(match name.to_ascii_uppercase().as_str() {
            "ARGS" => Args,
            "ARGS_GET" => ArgsGet,
            "ARGS_POST" => ArgsPost,
            "ARGS_NAMES" => ArgsNames,
            "ARGS_GET_NAMES" => ArgsGetNames,
            "ARGS_POST_NAMES" => ArgsPostNames,
            "ARGS_COMBINED_SIZE" => ArgsCombinedSize,
            "REQUEST_COOKIES" => RequestCookies,
            "REQUEST_COOKIES_NAMES" => RequestCookiesNames,
            "REQUEST_HEADERS" => RequestHeaders,
            "REQUEST_HEADERS_NAMES" => RequestHeadersNames,
            "REQUEST_FILENAME" => RequestFilename,
            "REQUEST_BASENAME" => RequestBasename,
            "REQUEST_URI" => RequestUri,
            "REQUEST_URI_RAW" => RequestUriRaw,
            "REQUEST_LINE" => RequestLine,
            "REQUEST_METHOD" => RequestMethod,
            "REQUEST_PROTOCOL" => RequestProtocol,
            "QUERY_STRING" => QueryString,
            "REQUEST_BODY" => RequestBody,
            "REQUEST_BODY_LENGTH" => RequestBodyLength,
            "FILES" => Files,
            "FILES_NAMES" => FilesNames,
            "FILES_SIZES" => FilesSizes,
            "FILES_COMBINED_SIZE" => FilesCombinedSize,
            "MULTIPART_PART_HEADERS" => MultipartPartHeaders,
            "MULTIPART_STRICT_ERROR" => MultipartStrictError,
            "MULTIPART_UNMATCHED_BOUNDARY" => MultipartUnmatchedBoundary,
            "REQBODY_PROCESSOR" => ReqbodyProcessor,
            "REQBODY_ERROR" => ReqbodyError,
            "XML" => Xml,
            "TX" => Tx,
            "MATCHED_VAR" => MatchedVar,
            "MATCHED_VARS" => MatchedVars,
            "MATCHED_VAR_NAME" => MatchedVarName,
            "MATCHED_VARS_NAMES" => MatchedVarsNames,
            "REMOTE_ADDR" => RemoteAddr,
            "UNIQUE_ID" => UniqueId,
            "DURATION" => Duration,
            "RESPONSE_BODY"
            | "RESPONSE_HEADERS"
            | "RESPONSE_HEADERS_NAMES"
            | "RESPONSE_STATUS"
            | "RESPONSE_PROTOCOL"
            | "RESPONSE_CONTENT_TYPE"
            | "RESPONSE_CONTENT_LENGTH"
            | "STATUS_LINE"
            | "WEBSERVER_ERROR_LOG"
            | "GEO"
            | "IP"
            | "GLOBAL"
            | "SESSION"
            | "USER"
            | "ENV"
            | "REQBODY_ERROR_MSG"
            | "FULL_REQUEST"
            | "FULL_REQUEST_LENGTH"
            | "AUTH_TYPE"
            | "REMOTE_USER"
            | "SERVER_NAME"
            | "SERVER_ADDR"
            | "SERVER_PORT"
            | "REMOTE_HOST"
            | "REMOTE_PORT"
            | "TIME"
            | "TIME_EPOCH"
            | "HIGHEST_SEVERITY"
            | "INBOUND_DATA_ERROR"
            | "OUTBOUND_DATA_ERROR"
            | "RULE"
            | "REQUEST_HEADERS_COUNT"
            | "MULTIPART_FILENAME"
            | "MULTIPART_NAME"
            | "URLENCODED_ERROR"
            | "PATH_INFO"
            | "SCRIPT_FILENAME"
            | "FILES_TMPNAMES"
            | "FILES_TMP_CONTENT"
            | "ARGS_GET_COUNT" => Empty,
            _ => return None,
        })
    }

    /// Whether the variable holds name/value pairs a selector can pick from.
    pub fn is_collection(self) -> bool {
        use Var::*;
        matches!(
            self,
            Args | ArgsGet
                | ArgsPost
                | ArgsNames
                | ArgsGetNames
                | ArgsPostNames
                | RequestCookies
                | RequestCookiesNames
                | RequestHeaders
                | RequestHeadersNames
                | Files
                | FilesNames
                | FilesSizes
                | MultipartPartHeaders
                | Xml
                | Tx
                | MatchedVars
                | MatchedVarsNames
        )
    }
}

/// Which members of a collection: by name (case-insensitive) or by `/regex/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SelectorSpec {
    Name(String),
    Regex(String),
}

/// One target of a rule: a variable, optionally one member, optionally counted (`&`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetSpec {
    pub var: Var,
    pub selector: Option<SelectorSpec>,
    pub count: bool,
}

/// A target with the exclusions (`!VAR:sel`) that apply to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Targets {
    pub include: Vec<TargetSpec>,
    pub exclude: Vec<TargetSpec>,
}

/// Parses `ARGS|!ARGS:foo|REQUEST_HEADERS:/^x-/|&TX:y`.
pub fn parse_targets(text: &str) -> Result<Targets, String> {
    let mut t = Targets {
        include: Vec::new(),
        exclude: Vec::new(),
    };
    for part in split_targets(text)? {
        add_target(&mut t, &part)?;
    }
    Ok(t)
}

/// Adds one `VAR[:sel]` item (with `!`/`&` prefix) to `t`.
pub fn add_target(t: &mut Targets, part: &str) -> Result<(), String> {
    let mut p = part.trim();
    let mut negate = false;
    let mut count = false;
    if let Some(r) = p.strip_prefix('!') {
        negate = true;
        p = r;
    }
    if let Some(r) = p.strip_prefix('&') {
        count = true;
        p = r;
    }
    let (name, sel) = match p.split_once(':') {
        Some((n, s)) => (n, Some(s)),
        None => (p, None),
    };
    let var = Var::from_name(name).ok_or_else(|| format!("unknown variable {name}"))?;
    let selector = match sel {
        None => None,
        Some(s) => {
            let s = s.trim_matches('\'');
            if s.len() >= 2 && s.starts_with('/') && s.ends_with('/') {
                Some(SelectorSpec::Regex(s[1..s.len() - 1].to_string()))
            } else {
                Some(SelectorSpec::Name(s.to_ascii_lowercase()))
            }
        }
    };
    let spec = TargetSpec {
        var,
        selector,
        count,
    };
    if negate {
        t.exclude.push(spec);
    } else {
        t.include.push(spec);
    }
    Ok(())
}

/// Splits at `|` outside `/regex/` selectors (an XPath like `XML:/*` is no regex).
fn split_targets(text: &str) -> Result<Vec<String>, String> {
    let pieces: Vec<&str> = text.split('|').collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < pieces.len() {
        let mut cur = pieces[i].to_string();
        let opens_regex = cur
            .split_once(':')
            .is_some_and(|(_, sel)| sel.starts_with('/') && (sel.len() < 2 || !sel.ends_with('/')));
        if opens_regex {
            if let Some(j) = (i + 1..pieces.len()).find(|&j| pieces[j].ends_with('/')) {
                for p in &pieces[i + 1..=j] {
                    cur.push('|');
                    cur.push_str(p);
                }
                i = j;
            }
        }
        out.push(cur);
        i += 1;
    }
    Ok(out.into_iter().filter(|s| !s.trim().is_empty()).collect())
}

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
    RuleRemoveTargetById(u32, String),
    RuleRemoveTargetByTag(String, String),
    RequestBodyProcessor(String),
    ForceRequestBodyVariable(bool),
    /// Accepted and ignored (auditEngine, ruleEngine, ...).
    Other,
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
                Ctl::RuleRemoveTargetById(id, t.to_string())
            }
            "ruleremovetargetbytag" => {
                let (tag, t) = v
                    .split_once(';')
                    .ok_or("ruleRemoveTargetByTag needs tag;TARGET")?;
                Ctl::RuleRemoveTargetByTag(tag.to_string(), t.to_string())
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
        for (name, value) in super::parse::actions(text)? {
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
}
