//! Browser family from a User-Agent, for the `browser` label: a fixed, small set.
//!
//! The User-Agent itself never leaves this function; only a [`Browser`] does. Only the
//! first [`MAX_USER_AGENT_SCAN_BYTES`] are looked at, so a huge header costs no more than
//! a normal one, and nothing is allocated.
//!
//! Order matters because browsers claim each other's names: Edge and Opera send
//! `Chrome/` and `Safari/`, Chrome sends `Safari/`, and crawlers often send a whole
//! browser string plus their own marker. So tools and bots are recognised first, then
//! Edge, Opera and IE by their own tokens, then Firefox, Chrome and finally Safari.

use memchr::memmem;

/// Bytes of a User-Agent the classifier reads; real ones are well under this.
pub const MAX_USER_AGENT_SCAN_BYTES: usize = 512;

/// A browser family, as counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Browser {
    Chrome,
    Firefox,
    Safari,
    Edge,
    Opera,
    Ie,
    Curl,
    Wget,
    Bot,
    Other,
    /// No User-Agent header (or an empty one).
    None,
}

impl Browser {
    /// Every family, in a fixed order (the order of [`Browser::index`]).
    pub const ALL: [Browser; 11] = [
        Browser::Chrome,
        Browser::Firefox,
        Browser::Safari,
        Browser::Edge,
        Browser::Opera,
        Browser::Ie,
        Browser::Curl,
        Browser::Wget,
        Browser::Bot,
        Browser::Other,
        Browser::None,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Browser::Chrome => "chrome",
            Browser::Firefox => "firefox",
            Browser::Safari => "safari",
            Browser::Edge => "edge",
            Browser::Opera => "opera",
            Browser::Ie => "ie",
            Browser::Curl => "curl",
            Browser::Wget => "wget",
            Browser::Bot => "bot",
            Browser::Other => "other",
            Browser::None => "none",
        }
    }

    /// Index into [`Browser::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// Lower-case markers of crawlers, scanners and scripted clients, besides `bot` itself
/// (which covers Googlebot, bingbot, AhrefsBot, …): tools that do not say "bot".
const BOT_MARKERS: &[&[u8]] = &[
    b"crawl",
    b"spider",
    b"slurp",
    b"scanner",
    b"python-requests",
    b"python-urllib",
    b"python-httpx",
    b"aiohttp",
    b"go-http-client",
    b"libwww-perl",
    b"java/",
    b"apache-httpclient",
    b"okhttp",
    b"node-fetch",
    b"axios/",
    b"scrapy",
    b"headlesschrome",
    b"phantomjs",
    b"sqlmap",
    b"nikto",
    b"nmap",
    b"masscan",
    b"zgrab",
    b"nuclei",
    b"wpscan",
    b"dirbuster",
    b"gobuster",
    b"ffuf",
    b"wfuzz",
    b"acunetix",
    b"nessus",
    b"openvas",
    b"netsparker",
    b"hydra",
    b"zmeu",
    b"facebookexternalhit",
    b"ia_archiver",
    b"check_http",
];

/// The browser family of a User-Agent header value (`None` when there is none).
pub fn classify(user_agent: Option<&str>) -> Browser {
    let Some(ua) = user_agent else {
        return Browser::None;
    };
    let ua = ua.trim().as_bytes();
    if ua.is_empty() {
        return Browser::None;
    }
    let ua = &ua[..ua.len().min(MAX_USER_AGENT_SCAN_BYTES)];
    let mut lower_buf = [0u8; MAX_USER_AGENT_SCAN_BYTES];
    let lower = &mut lower_buf[..ua.len()];
    lower.copy_from_slice(ua);
    lower.make_ascii_lowercase();
    let lower: &[u8] = lower;

    if lower.starts_with(b"curl/") || lower == b"curl" {
        return Browser::Curl;
    }
    if lower.starts_with(b"wget/") || lower == b"wget" {
        return Browser::Wget;
    }
    if is_bot(lower) {
        return Browser::Bot;
    }
    // Tokens browsers send themselves, case as sent.
    let has = |token: &[u8]| memmem::find(ua, token).is_some();
    if has(b"Edg/") || has(b"Edge/") || has(b"EdgA/") || has(b"EdgiOS/") {
        Browser::Edge
    } else if has(b"OPR/") || has(b"Opera") || has(b"OPiOS/") || has(b"OPT/") {
        Browser::Opera
    } else if has(b"MSIE ") || has(b"Trident/") {
        Browser::Ie
    } else if has(b"Firefox/") || has(b"FxiOS/") {
        Browser::Firefox
    } else if has(b"Chrome/") || has(b"CriOS/") || has(b"Chromium/") {
        Browser::Chrome
    } else if has(b"Safari/") {
        Browser::Safari
    } else {
        Browser::Other
    }
}

/// Whether a lower-cased agent carries a bot marker. `bot` inside `cubot` does not
/// count: CUBOT phones send their name in an ordinary Android browser string.
fn is_bot(lower: &[u8]) -> bool {
    memmem::find_iter(lower, b"bot").any(|at| !lower[..at].ends_with(b"cu"))
        || BOT_MARKERS.iter().any(|m| memmem::find(lower, m).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHROME_WIN: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 \
        (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36";
    const CHROME_ANDROID: &str = "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 \
        (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36";
    const CHROME_IOS: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) \
        AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/124.0.6367.88 Mobile/15E148 Safari/604.1";
    const EDGE_CHROMIUM: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 \
        (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.80";
    const EDGE_LEGACY: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 \
        (KHTML, like Gecko) Chrome/70.0.3538.102 Safari/537.36 Edge/18.19582";
    const EDGE_ANDROID: &str = "Mozilla/5.0 (Linux; Android 10; HD1913) AppleWebKit/537.36 \
        (KHTML, like Gecko) Chrome/124.0.6367.82 Mobile Safari/537.36 EdgA/124.0.2478.64";
    const OPERA: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 \
        (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 OPR/110.0.0.0";
    const OPERA_PRESTO: &str = "Opera/9.80 (Windows NT 6.1; WOW64) Presto/2.12.388 Version/12.18";
    const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0";
    const FIREFOX_IOS: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 14_4 like Mac OS X) \
        AppleWebKit/605.1.15 (KHTML, like Gecko) FxiOS/32.0 Mobile/15E148 Safari/605.1.15";
    const SAFARI_MAC: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) \
        AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Safari/605.1.15";
    const SAFARI_IOS: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) \
        AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1";
    const IE11: &str = "Mozilla/5.0 (Windows NT 10.0; WOW64; Trident/7.0; rv:11.0) like Gecko";
    const IE8: &str = "Mozilla/4.0 (compatible; MSIE 8.0; Windows NT 6.1; Trident/4.0)";
    const GOOGLEBOT: &str =
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";
    const GOOGLEBOT_SMARTPHONE: &str = "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X \
        Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.82 Mobile \
        Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";
    const BINGBOT: &str = "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)";
    const CUBOT_PHONE: &str = "Mozilla/5.0 (Linux; Android 9; CUBOT P30) AppleWebKit/537.36 \
        (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36";

    #[test]
    fn classifies_browser_families() {
        let table: &[(Option<&str>, Browser)] = &[
            (Some(CHROME_WIN), Browser::Chrome),
            (Some(CHROME_ANDROID), Browser::Chrome),
            (Some(CHROME_IOS), Browser::Chrome),
            (Some(EDGE_CHROMIUM), Browser::Edge),
            (Some(EDGE_LEGACY), Browser::Edge),
            (Some(EDGE_ANDROID), Browser::Edge),
            (Some(OPERA), Browser::Opera),
            (Some(OPERA_PRESTO), Browser::Opera),
            (Some(FIREFOX), Browser::Firefox),
            (Some(FIREFOX_IOS), Browser::Firefox),
            (Some(SAFARI_MAC), Browser::Safari),
            (Some(SAFARI_IOS), Browser::Safari),
            (Some(IE11), Browser::Ie),
            (Some(IE8), Browser::Ie),
            (Some(CUBOT_PHONE), Browser::Chrome),
        ];
        for (ua, want) in table {
            assert_eq!(classify(*ua), *want, "{ua:?}");
        }
    }

    #[test]
    fn classifies_tools_and_bots_before_browsers() {
        let table: &[(&str, Browser)] = &[
            ("curl/8.5.0", Browser::Curl),
            ("Wget/1.21.4", Browser::Wget),
            ("Wget/1.21.4 (linux-gnu)", Browser::Wget),
            (GOOGLEBOT, Browser::Bot),
            (GOOGLEBOT_SMARTPHONE, Browser::Bot),
            (BINGBOT, Browser::Bot),
            ("Mozilla/5.0 (compatible; YandexBot/3.0)", Browser::Bot),
            (
                "Baiduspider+(+http://www.baidu.com/search/spider.htm)",
                Browser::Bot,
            ),
            ("python-requests/2.31.0", Browser::Bot),
            ("Python-urllib/3.11", Browser::Bot),
            ("Go-http-client/1.1", Browser::Bot),
            ("sqlmap/1.8#stable (https://sqlmap.org)", Browser::Bot),
            (
                "Mozilla/5.00 (Nikto/2.5.0) (Evasions:None) (Test:000001)",
                Browser::Bot,
            ),
            (
                "Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)",
                Browser::Bot,
            ),
            ("Mozilla/5.0 zgrab/0.x", Browser::Bot),
            ("Some Vulnerability Scanner 1.0", Browser::Bot),
            ("CUBOT-crawler/1.0", Browser::Bot),
            (
                "Mozilla/5.0 (Linux; Android 9; CUBOT P30) Googlebot/2.1",
                Browser::Bot,
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) HeadlessChrome/124.0",
                Browser::Bot,
            ),
        ];
        for (ua, want) in table {
            assert_eq!(classify(Some(ua)), *want, "{ua:?}");
        }
    }

    #[test]
    fn missing_empty_and_unknown_agents() {
        assert_eq!(classify(None), Browser::None);
        assert_eq!(classify(Some("")), Browser::None);
        assert_eq!(classify(Some("   ")), Browser::None);
        assert_eq!(classify(Some("Mozilla/5.0")), Browser::Other);
        assert_eq!(classify(Some("MyApp/1.0 token-9f8e7d")), Browser::Other);
    }

    #[test]
    fn huge_agents_are_read_only_up_to_the_cap() {
        let mut ua = String::from(FIREFOX);
        ua.push_str(&" x".repeat(100_000));
        ua.push_str(" Googlebot");
        assert_eq!(classify(Some(&ua)), Browser::Firefox);
        let multibyte = "é".repeat(10_000);
        assert_eq!(classify(Some(&multibyte)), Browser::Other);
    }

    #[test]
    fn labels_are_lower_case_and_distinct() {
        let labels: std::collections::HashSet<_> =
            Browser::ALL.iter().map(|b| b.as_str()).collect();
        assert_eq!(labels.len(), Browser::ALL.len());
        for (i, b) in Browser::ALL.iter().enumerate() {
            assert_eq!(b.index(), i);
            assert!(b.as_str().bytes().all(|c| c.is_ascii_lowercase()));
        }
    }
}
