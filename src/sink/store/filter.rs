//! Query filters: what IT staff type (`--since 7d --category upload --src 198.51.100.0/24`)
//! checked and turned into values the queries use.
//!
//! [`FilterSpec`] holds the raw text of each flag; [`FilterSpec::compile`] validates it
//! against a `now` passed in (relative times are relative to it) and yields [`Filters`].
//! A value that does not parse is an error naming the flag and the accepted forms; it is
//! never silently ignored.

use std::net::IpAddr;

use ipnet::IpNet;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, OffsetDateTime, PrimitiveDateTime, UtcOffset};

use crate::detect::alert::Category;
use crate::time::Timestamp;

const MICROS_PER_DAY: i64 = 86_400 * Timestamp::MICROS_PER_SEC;

/// The raw text of each filter flag, as typed.
#[derive(Debug, Clone, Default)]
pub struct FilterSpec {
    /// Inclusive lower bound: a duration before now (`24h`) or an absolute time.
    pub since: Option<String>,
    /// Exclusive upper bound; a bare date means the end of that day.
    pub until: Option<String>,
    /// One of the eight categories.
    pub category: Option<String>,
    /// A rule name (`upload.script-extension`) or numeric signature id.
    pub rule: Option<String>,
    /// An address or CIDR network.
    pub src: Option<String>,
    /// The host an imported alert came from (`flagged import`).
    pub host: Option<String>,
    /// At most this many rows.
    pub limit: Option<u64>,
}

/// A rule, by name or by signature id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleRef {
    Id(u32),
    Name(String),
}

/// Checked filters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters {
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
    pub category: Option<Category>,
    pub rule: Option<RuleRef>,
    /// Matches sources whose kept address is inside the network: the address itself, or
    /// the network address of a truncated one. A hashed source matches no network.
    pub src: Option<IpNet>,
    /// Matches alerts imported from this host; alerts recorded locally have none.
    pub host: Option<String>,
    pub limit: Option<u64>,
}

/// Why a filter value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    #[error(
        "{flag}: `{value}` is not a time; use a duration before now (30m, 24h, 7d, 2w) \
         or a UTC date or time (2026-11-22, 2026-11-22T10:00:00Z, 2026-11-22 10:00:00)"
    )]
    Time { flag: &'static str, value: String },
    #[error("--since {since} is not before --until {until}")]
    EmptyRange { since: String, until: String },
    #[error("--category: `{0}` is not a category; use one of upload, modification, injection, traversal, recon, brute_force, flood, protocol")]
    Category(String),
    #[error(
        "--rule: `{0}` is neither a signature id nor a rule name (like upload.script-extension)"
    )]
    Rule(String),
    #[error("--src: `{0}` is not an address or CIDR network (like 198.51.100.7, 198.51.100.0/24 or 2001:db8::/48)")]
    Src(String),
    #[error("--host: `{0}` is not a host name (letters, digits, . - _ : only)")]
    Host(String),
}

impl FilterSpec {
    /// Checks every value; relative times count back from `now`.
    pub fn compile(&self, now: Timestamp) -> Result<Filters, FilterError> {
        let since = self
            .since
            .as_deref()
            .map(|s| parse_time(s, now, "--since", Bound::Start))
            .transpose()?;
        let until = self
            .until
            .as_deref()
            .map(|s| parse_time(s, now, "--until", Bound::End))
            .transpose()?;
        if let (Some(s), Some(u)) = (since, until) {
            if s >= u {
                return Err(FilterError::EmptyRange {
                    since: s.to_eve(),
                    until: u.to_eve(),
                });
            }
        }
        Ok(Filters {
            since,
            until,
            category: self.category.as_deref().map(parse_category).transpose()?,
            rule: self.rule.as_deref().map(parse_rule).transpose()?,
            src: self.src.as_deref().map(parse_src).transpose()?,
            host: self.host.as_deref().map(parse_host).transpose()?,
            limit: self.limit,
        })
    }
}

/// Which end of a range a bare date stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    /// Midnight at the start of the day.
    Start,
    /// Midnight at the end of the day (the range's exclusive end).
    End,
}

/// Parses a relative (`30m`, `24h`, `7d`, `2w`, `90s`) or absolute time.
pub fn parse_time(
    text: &str,
    now: Timestamp,
    flag: &'static str,
    bound: Bound,
) -> Result<Timestamp, FilterError> {
    let err = || FilterError::Time {
        flag,
        value: text.to_owned(),
    };
    let text = text.trim();
    if let Some(micros) = parse_duration(text) {
        return Ok(Timestamp(now.0.saturating_sub(micros)));
    }
    parse_absolute(text, bound).ok_or_else(err)
}

/// `<digits><unit>` with unit s, m, h, d or w, in microseconds.
fn parse_duration(text: &str) -> Option<i64> {
    let unit_at = text.len().checked_sub(1)?;
    if !text.is_char_boundary(unit_at) {
        return None;
    }
    let (digits, unit) = text.split_at(unit_at);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let secs: i64 = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return None,
    };
    digits
        .parse::<i64>()
        .ok()?
        .checked_mul(secs)?
        .checked_mul(Timestamp::MICROS_PER_SEC)
}

fn parse_absolute(text: &str, bound: Bound) -> Option<Timestamp> {
    if let Ok(t) = OffsetDateTime::parse(text, &Rfc3339) {
        return micros_of(t);
    }
    // The EVE form, as in events and `flagged show`: 2026-11-22T10:00:00.123456+0000.
    let eve = format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond][offset_hour sign:mandatory][offset_minute]"
    );
    if let Ok(t) = OffsetDateTime::parse(text, eve) {
        return micros_of(t);
    }
    // The table form of `flagged list`, UTC: 2026-11-22 10:00:00 or 2026-11-22 10:00.
    let seconds = format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    let minutes = format_description!("[year]-[month]-[day] [hour]:[minute]");
    for form in [seconds, minutes] {
        if let Ok(t) = PrimitiveDateTime::parse(text, form) {
            return micros_of(t.assume_offset(UtcOffset::UTC));
        }
    }
    let date = Date::parse(text, format_description!("[year]-[month]-[day]")).ok()?;
    let start = micros_of(date.midnight().assume_offset(UtcOffset::UTC))?;
    Some(match bound {
        Bound::Start => start,
        Bound::End => Timestamp(start.0.saturating_add(MICROS_PER_DAY)),
    })
}

fn micros_of(t: OffsetDateTime) -> Option<Timestamp> {
    i64::try_from(t.unix_timestamp_nanos() / 1_000)
        .ok()
        .map(Timestamp)
}

/// One of the eight category names.
pub fn parse_category(text: &str) -> Result<Category, FilterError> {
    Category::parse(text.trim()).ok_or_else(|| FilterError::Category(text.to_owned()))
}

/// A signature id, or a rule name of letters, digits and `._-`.
pub fn parse_rule(text: &str) -> Result<RuleRef, FilterError> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text
            .parse()
            .map(RuleRef::Id)
            .map_err(|_| FilterError::Rule(text.to_owned()));
    }
    let name_like = !text.is_empty()
        && text.len() <= 128
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if name_like {
        Ok(RuleRef::Name(text.to_owned()))
    } else {
        Err(FilterError::Rule(text.to_owned()))
    }
}

/// An address (a one-address network) or a CIDR network; host bits are cleared.
pub fn parse_src(text: &str) -> Result<IpNet, FilterError> {
    let text = text.trim();
    if let Ok(net) = text.parse::<IpNet>() {
        return Ok(net.trunc());
    }
    text.parse::<IpAddr>()
        .map(IpNet::from)
        .map_err(|_| FilterError::Src(text.to_owned()))
}

/// A host name as `flagged import` stores it.
fn parse_host(text: &str) -> Result<String, FilterError> {
    let text = text.trim();
    if super::import::valid_host(text) {
        Ok(text.to_owned())
    } else {
        Err(FilterError::Host(text.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-11-22T10:00:00Z
    const NOW: Timestamp = Timestamp(1_795_341_600 * Timestamp::MICROS_PER_SEC);
    const HOUR: i64 = 3_600 * Timestamp::MICROS_PER_SEC;

    fn since(text: &str) -> Result<Timestamp, FilterError> {
        parse_time(text, NOW, "--since", Bound::Start)
    }

    #[test]
    fn reads_durations_back_from_now() {
        assert_eq!(since("24h"), Ok(Timestamp(NOW.0 - 24 * HOUR)));
        assert_eq!(since("7d"), Ok(Timestamp(NOW.0 - 7 * 24 * HOUR)));
        assert_eq!(since("30m"), Ok(Timestamp(NOW.0 - HOUR / 2)));
        assert_eq!(since("2w"), Ok(Timestamp(NOW.0 - 14 * 24 * HOUR)));
        assert_eq!(since("90s"), Ok(Timestamp(NOW.0 - 90 * 1_000_000)));
    }

    #[test]
    fn reads_absolute_times_in_every_offered_form() {
        let ten = Ok(NOW);
        assert_eq!(since("2026-11-22T10:00:00Z"), ten);
        assert_eq!(since("2026-11-22T12:00:00+02:00"), ten);
        assert_eq!(since("2026-11-22T10:00:00.000000+0000"), ten);
        assert_eq!(since("2026-11-22 10:00:00"), ten);
        assert_eq!(since("2026-11-22 10:00"), ten);
        assert_eq!(since("2026-11-22"), Ok(Timestamp(NOW.0 - 10 * HOUR)));
        assert_eq!(
            parse_time("2026-11-22", NOW, "--until", Bound::End),
            Ok(Timestamp(NOW.0 + 14 * HOUR)),
            "a bare --until date includes that whole day"
        );
    }

    #[test]
    fn rejects_times_that_are_not_times() {
        for bad in [
            "yesterdayish",
            "",
            "7",
            "d",
            "7x",
            "-7d",
            "2026-13-01",
            "24 h",
            "７d",
        ] {
            let err = since(bad).expect_err(bad);
            assert!(err.to_string().starts_with("--since: `"), "{err}");
        }
    }

    #[test]
    fn rejects_an_empty_range() {
        let spec = FilterSpec {
            since: Some("1h".into()),
            until: Some("2h".into()),
            ..FilterSpec::default()
        };
        assert!(matches!(
            spec.compile(NOW),
            Err(FilterError::EmptyRange { .. })
        ));
    }

    #[test]
    fn validates_categories() {
        assert_eq!(parse_category("brute_force"), Ok(Category::BruteForce));
        let err = parse_category("foo").expect_err("foo");
        assert!(err.to_string().contains("`foo` is not a category"), "{err}");
    }

    #[test]
    fn takes_rules_by_id_or_name() {
        assert_eq!(parse_rule("100101"), Ok(RuleRef::Id(100_101)));
        assert_eq!(
            parse_rule("upload.script-extension"),
            Ok(RuleRef::Name("upload.script-extension".into()))
        );
        assert!(parse_rule("99999999999").is_err());
        assert!(parse_rule("drop table;").is_err());
        assert!(parse_rule("").is_err());
    }

    #[test]
    fn reads_addresses_and_networks() {
        assert_eq!(
            parse_src("198.51.100.7/24"),
            Ok("198.51.100.0/24".parse().expect("net"))
        );
        assert_eq!(
            parse_src("2001:db8::1"),
            Ok("2001:db8::1/128".parse().expect("net"))
        );
        let err = parse_src("1.2.3").expect_err("1.2.3");
        assert!(
            err.to_string().contains("`1.2.3` is not an address"),
            "{err}"
        );
        assert!(parse_src("10.0.0.0/33").is_err());
    }

    #[test]
    fn refuses_host_names_that_are_not_names() {
        for bad in ["", "a/b", "web 1", "x'; --"] {
            assert_eq!(parse_host(bad), Err(FilterError::Host(bad.trim().into())));
        }
        assert_eq!(parse_host(" web1 "), Ok("web1".into()));
    }

    #[test]
    fn compiles_a_full_spec() {
        let spec = FilterSpec {
            since: Some("7d".into()),
            until: Some("2026-11-22".into()),
            category: Some("upload".into()),
            rule: Some("100101".into()),
            src: Some("198.51.100.0/24".into()),
            host: Some("web-1.example.gov".into()),
            limit: Some(5),
        };
        let f = spec.compile(NOW).expect("valid");
        assert_eq!(f.host.as_deref(), Some("web-1.example.gov"));
        assert_eq!(f.category, Some(Category::Upload));
        assert_eq!(f.rule, Some(RuleRef::Id(100_101)));
        assert_eq!(f.limit, Some(5));
    }
}
