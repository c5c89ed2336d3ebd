//! The variables a rule inspects and its target list: [`Var`], selectors, exclusions,
//! counts, and the parser for `ARGS|!ARGS:foo|REQUEST_HEADERS:/^x-/|&TX:y`.

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
