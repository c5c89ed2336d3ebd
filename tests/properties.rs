//! Property tests for every entry point that takes untrusted input: frame decode, the
//! request and response head parsers, the HTTP session, multipart bodies, rule YAML and
//! config YAML. Each checks the invariant that matters there: no panic on any input,
//! output bounded by the input and the documented caps, and for the stream parsers the
//! same result whatever the TCP segmentation. Inputs are random bytes and random
//! mutations of real material: frames and streams from the bundled captures
//! (pcaps/http, pcaps/attacks), the shipped rules and the packaged config. Case counts
//! are kept small so the suite stays fast on two cores; raise `PROPTEST_CASES` locally
//! for a longer search.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use proptest::test_runner::Config as RunnerConfig;

use tamperwatch::config::Config;
use tamperwatch::decode::{decode, Decoded, LinkType, Transport};
use tamperwatch::detect::rules;
use tamperwatch::flow::Direction;
use tamperwatch::http::multipart::{MultipartParser, MAX_PARTS};
use tamperwatch::http::parse::{
    find_head_end, parse_request_head, parse_response_head, MAX_HEADERS,
};
use tamperwatch::http::session::{FlowContext, HttpSession};
use tamperwatch::http::{HttpTransaction, UploadPart};
use tamperwatch::reassembly::Chunk;
use tamperwatch::time::Timestamp;

/// Cases per property unless `PROPTEST_CASES` says otherwise.
const CASES: u32 = 64;

fn runner() -> RunnerConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(CASES);
    RunnerConfig {
        cases,
        // Failures are reported with their minimal input; nothing is written to disk.
        failure_persistence: None,
        ..RunnerConfig::default()
    }
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn pcaps(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("pcaps").join(dir))
        .expect("pcaps dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "pcap"))
        .collect();
    files.sort();
    files
}

/// Every frame of a capture, with its link type.
fn frames(path: &Path) -> (LinkType, Vec<Vec<u8>>) {
    let mut cap = pcap::Capture::from_file(path).expect("open capture");
    let link = LinkType::from_dlt(cap.get_datalink().0).expect("known link type");
    let mut out = Vec::new();
    while let Ok(packet) = cap.next_packet() {
        out.push(packet.data.to_vec());
    }
    (link, out)
}

/// A conversation: turns of (direction, bytes), consecutive same-direction payloads
/// merged, from the first TCP connection of a capture. Retransmissions and anything
/// out of order are left out (the bundled captures are clean loopback traffic).
type Turns = Vec<(Direction, Vec<u8>)>;

fn conversation(path: &Path) -> Option<Turns> {
    let (link, frames) = frames(path);
    let mut client: Option<(IpAddr, u16)> = None;
    let mut server: Option<(IpAddr, u16)> = None;
    let mut next_seq: [Option<u32>; 2] = [None, None];
    let mut turns: Turns = Vec::new();
    for frame in &frames {
        let Ok(Decoded::Packet(p)) = decode(link, frame) else {
            continue;
        };
        let Transport::Tcp {
            src_port,
            dst_port,
            seq,
            flags,
            ..
        } = p.transport
        else {
            continue;
        };
        if client.is_none() {
            if !flags.syn() || flags.ack() {
                continue;
            }
            client = Some((p.src, src_port));
            server = Some((p.dst, dst_port));
        }
        let dir = if Some((p.src, src_port)) == client && Some((p.dst, dst_port)) == server {
            Direction::ToServer
        } else if Some((p.src, src_port)) == server && Some((p.dst, dst_port)) == client {
            Direction::ToClient
        } else {
            continue;
        };
        let i = dir as usize;
        if flags.syn() {
            next_seq[i] = Some(seq.wrapping_add(1));
            continue;
        }
        if p.payload.is_empty() || next_seq[i] != Some(seq) {
            continue;
        }
        next_seq[i] = Some(seq.wrapping_add(p.payload.len() as u32));
        match turns.last_mut() {
            Some((d, bytes)) if *d == dir => bytes.extend_from_slice(p.payload),
            _ => turns.push((dir, p.payload.to_vec())),
        }
    }
    (!turns.is_empty()).then_some(turns)
}

fn ctx() -> FlowContext {
    FlowContext {
        flow_id: 1,
        client: "198.51.100.7:51234".parse().expect("addr"),
        server: "203.0.113.10:80".parse().expect("addr"),
        keep_response_bytes: tamperwatch::http::session::MAX_RESPONSE_PREFIX_BYTES,
    }
}

/// Plays the turns through a session, each turn cut at `cuts` (fractions of its
/// length); every segment of a turn carries that turn's timestamp.
fn play(turns: &Turns, cuts: &[f64]) -> Vec<HttpTransaction> {
    let mut session = HttpSession::default();
    let mut out = Vec::new();
    let ctx = ctx();
    for (i, (dir, bytes)) in turns.iter().enumerate() {
        let now = Timestamp(i as i64 * 1_000);
        let mut points: Vec<usize> = cuts
            .iter()
            .map(|c| ((bytes.len() as f64) * c) as usize)
            .filter(|&p| p > 0 && p < bytes.len())
            .collect();
        points.sort_unstable();
        points.dedup();
        let mut start = 0;
        for end in points.into_iter().chain(std::iter::once(bytes.len())) {
            session.on_chunk(*dir, Chunk::Data(&bytes[start..end]), now, &ctx, &mut out);
            start = end;
        }
    }
    session.finish(Timestamp(1_000_000), &ctx, &mut out);
    out
}

/// Real conversations, loaded once.
fn conversations() -> &'static Vec<(String, Turns)> {
    static ALL: std::sync::OnceLock<Vec<(String, Turns)>> = std::sync::OnceLock::new();
    ALL.get_or_init(|| {
        let mut all = Vec::new();
        for path in pcaps("http").into_iter().chain(pcaps("attacks")) {
            if let Some(turns) = conversation(&path) {
                all.push((path.display().to_string(), turns));
            }
        }
        all
    })
}

/// Real frames of every link type bundled, loaded once.
fn real_frames() -> &'static Vec<(LinkType, Vec<u8>)> {
    static ALL: std::sync::OnceLock<Vec<(LinkType, Vec<u8>)>> = std::sync::OnceLock::new();
    ALL.get_or_init(|| {
        let mut all = Vec::new();
        for dir in ["http", "tcp", "attacks"] {
            for path in pcaps(dir) {
                let (link, frames) = frames(&path);
                all.extend(frames.into_iter().take(40).map(|f| (link, f)));
            }
        }
        all
    })
}

/// Applies `edits` (position fraction, byte) to `bytes`, and cuts it at `cut` if given.
fn mutate(bytes: &[u8], edits: &[(f64, u8)], cut: Option<f64>) -> Vec<u8> {
    let mut out = bytes.to_vec();
    if out.is_empty() {
        return out;
    }
    let last = out.len() - 1;
    for (at, byte) in edits {
        let i = ((out.len() as f64) * at) as usize;
        out[i.min(last)] = *byte;
    }
    if let Some(cut) = cut {
        out.truncate(((out.len() as f64) * cut) as usize);
    }
    out
}

fn edits() -> impl Strategy<Value = Vec<(f64, u8)>> {
    prop::collection::vec((0.0..1.0f64, any::<u8>()), 0..8)
}

fn check_decoded(frame: &[u8], decoded: Result<Decoded<'_>, impl std::fmt::Debug>) {
    if let Ok(Decoded::Packet(p)) = decoded {
        assert!(
            p.payload.len() <= frame.len(),
            "payload longer than the frame"
        );
    }
}

const LINKS: [LinkType; 5] = [
    LinkType::LinuxSll2,
    LinkType::Ethernet,
    LinkType::LinuxSll,
    LinkType::Raw,
    LinkType::Null,
];

proptest! {
    #![proptest_config(runner())]

    #[test]
    fn decode_never_panics_on_random_frames(
        link in 0..LINKS.len(),
        frame in prop::collection::vec(any::<u8>(), 0..256),
    ) {
        check_decoded(&frame, decode(LINKS[link], &frame));
    }

    #[test]
    fn decode_never_panics_on_mutated_real_frames(
        pick in any::<prop::sample::Index>(),
        edits in edits(),
        cut in prop::option::of(0.0..1.0f64),
    ) {
        let frames = real_frames();
        prop_assume!(!frames.is_empty());
        let (link, frame) = &frames[pick.index(frames.len())];
        let frame = mutate(frame, &edits, cut);
        check_decoded(&frame, decode(*link, &frame));
    }

    #[test]
    fn head_parsers_never_panic_and_stay_bounded(
        head in prop::collection::vec(any::<u8>(), 0..512),
    ) {
        if let Some(end) = find_head_end(&head) {
            prop_assert!(end <= head.len());
        }
        if let Ok(req) = parse_request_head(&head) {
            prop_assert!(req.headers.len() <= MAX_HEADERS.max(head.len()));
            prop_assert!(req.method.len() + req.uri.len() <= head.len());
        }
        if let Ok(resp) = parse_response_head(&head) {
            prop_assert!(resp.headers.len() <= MAX_HEADERS.max(head.len()));
            prop_assert!(resp.reason.len() <= head.len() * 3);
        }
    }

    #[test]
    fn head_parsers_never_panic_on_mutated_real_heads(
        pick in any::<prop::sample::Index>(),
        edits in edits(),
        cut in prop::option::of(0.0..1.0f64),
    ) {
        let all = conversations();
        prop_assume!(!all.is_empty());
        let (_, turns) = &all[pick.index(all.len())];
        for (_, bytes) in turns.iter().take(2) {
            let end = find_head_end(bytes).unwrap_or(bytes.len());
            let head = mutate(&bytes[..end], &edits, cut);
            let _ = parse_request_head(&head);
            let _ = parse_response_head(&head);
        }
    }

    #[test]
    fn sessions_give_the_same_transactions_whatever_the_segmentation(
        pick in any::<prop::sample::Index>(),
        cuts in prop::collection::vec(0.0..1.0f64, 1..12),
    ) {
        let all = conversations();
        prop_assume!(!all.is_empty());
        let (name, turns) = &all[pick.index(all.len())];
        let whole = play(turns, &[]);
        let split = play(turns, &cuts);
        prop_assert_eq!(whole, split, "{} cut at {:?}", name, cuts);
    }

    #[test]
    fn mutated_sessions_give_the_same_transactions_whatever_the_segmentation(
        pick in any::<prop::sample::Index>(),
        edits in edits(),
        cuts in prop::collection::vec(0.0..1.0f64, 1..12),
    ) {
        let all = conversations();
        prop_assume!(!all.is_empty());
        let (name, turns) = &all[pick.index(all.len())];
        let mutated: Turns = turns
            .iter()
            .map(|(d, bytes)| (*d, mutate(bytes, &edits, None)))
            .collect();
        let whole = play(&mutated, &[]);
        let split = play(&mutated, &cuts);
        prop_assert_eq!(whole, split, "{} edits {:?} cut at {:?}", name, edits, cuts);
    }

    #[test]
    fn sessions_never_panic_on_mutated_real_streams(
        pick in any::<prop::sample::Index>(),
        edits in edits(),
        cuts in prop::collection::vec(0.0..1.0f64, 0..6),
    ) {
        let all = conversations();
        prop_assume!(!all.is_empty());
        let (_, turns) = &all[pick.index(all.len())];
        let mutated: Turns = turns
            .iter()
            .map(|(d, bytes)| (*d, mutate(bytes, &edits, None)))
            .collect();
        let total: usize = mutated.iter().map(|(_, b)| b.len()).sum();
        let txns = play(&mutated, &cuts);
        // At most one transaction per request line, and there are fewer lines than bytes.
        prop_assert!(txns.len() <= total.max(1));
    }

    #[test]
    fn multipart_is_bounded_and_segmentation_invariant(
        body in multipart_body(),
        cuts in prop::collection::vec(0.0..1.0f64, 0..10),
    ) {
        let whole = parse_multipart(&body, &[]);
        let split = parse_multipart(&body, &cuts);
        prop_assert!(whole.len() <= MAX_PARTS);
        prop_assert_eq!(whole, split);
    }

    #[test]
    fn mutated_multipart_is_segmentation_invariant(
        body in multipart_body(),
        edits in edits(),
        cuts in prop::collection::vec(0.0..1.0f64, 1..10),
    ) {
        let body = mutate(&body, &edits, None);
        prop_assert_eq!(parse_multipart(&body, &[]), parse_multipart(&body, &cuts));
    }

    #[test]
    fn multipart_never_panics_on_random_bytes(
        body in prop::collection::vec(any::<u8>(), 0..1024),
        cuts in prop::collection::vec(0.0..1.0f64, 0..6),
    ) {
        let parts = parse_multipart(&body, &cuts);
        prop_assert!(parts.len() <= MAX_PARTS);
    }

    #[test]
    fn rule_yaml_never_panics(
        pick in any::<prop::sample::Index>(),
        edits in edits(),
        cut in prop::option::of(0.0..1.0f64),
    ) {
        let files = rule_files();
        let (path, text) = &files[pick.index(files.len())];
        let text = String::from_utf8_lossy(&mutate(text.as_bytes(), &edits, cut)).into_owned();
        let mut headers = Vec::new();
        if let Ok(defs) = rules::parse_file(&text, path, &mut headers) {
            // No rule appears out of nothing: each needs at least an id line.
            prop_assert!(defs.len() <= text.lines().count());
        }
    }

    #[test]
    fn config_yaml_never_panics(
        edits in edits(),
        cut in prop::option::of(0.0..1.0f64),
        random in prop::collection::vec(any::<u8>(), 0..128),
        use_random in any::<bool>(),
    ) {
        let path = root().join("systemd/tamperwatch.yaml");
        let text = std::fs::read(&path).expect("packaged config");
        let input = if use_random { random } else { mutate(&text, &edits, cut) };
        let _ = Config::parse(&String::from_utf8_lossy(&input), &path);
    }
}

const BOUNDARY: &str = "----tw7MA4YWxkTrZu0gW";

/// A multipart body built from random parts, sometimes broken on purpose.
fn multipart_body() -> impl Strategy<Value = Vec<u8>> {
    let part = (
        "[a-z]{1,8}",
        prop::option::of("[a-zA-Z0-9._-]{1,16}"),
        prop::collection::vec(any::<u8>(), 0..200),
    );
    (prop::collection::vec(part, 0..6), any::<bool>()).prop_map(|(parts, close)| {
        let mut body = Vec::new();
        for (name, filename, content) in parts {
            body.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
            let disposition = match filename {
                Some(f) => format!("form-data; name=\"{name}\"; filename=\"{f}\""),
                None => format!("form-data; name=\"{name}\""),
            };
            body.extend_from_slice(
                format!("Content-Disposition: {disposition}\r\n\r\n").as_bytes(),
            );
            body.extend_from_slice(&content);
            body.extend_from_slice(b"\r\n");
        }
        if close {
            body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
        }
        body
    })
}

fn parse_multipart(body: &[u8], cuts: &[f64]) -> Vec<UploadPart> {
    let mut parser =
        MultipartParser::from_content_type(&format!("multipart/form-data; boundary={BOUNDARY}"))
            .expect("valid boundary");
    let mut points: Vec<usize> = cuts
        .iter()
        .map(|c| ((body.len() as f64) * c) as usize)
        .filter(|&p| p > 0 && p < body.len())
        .collect();
    points.sort_unstable();
    points.dedup();
    let mut parts = Vec::new();
    let mut start = 0;
    for end in points.into_iter().chain(std::iter::once(body.len())) {
        parser.feed(&body[start..end], &mut parts);
        start = end;
    }
    parser.finish(&mut parts);
    parts
}

fn rule_files() -> &'static Vec<(PathBuf, String)> {
    static ALL: std::sync::OnceLock<Vec<(PathBuf, String)>> = std::sync::OnceLock::new();
    ALL.get_or_init(|| {
        let mut all: Vec<(PathBuf, String)> = std::fs::read_dir(root().join("rules"))
            .expect("rules dir")
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
            .map(|p| {
                let text = std::fs::read_to_string(&p).expect("rule file");
                (p, text)
            })
            .collect();
        all.sort();
        all
    })
}

#[test]
fn the_real_material_is_there() {
    assert!(
        conversations().len() >= 10,
        "conversations: {}",
        conversations().len()
    );
    assert!(real_frames().len() >= 100);
    // The segmentation property means something only if the streams hold transactions.
    let with_transactions = conversations()
        .iter()
        .filter(|(_, turns)| !play(turns, &[]).is_empty())
        .count();
    assert!(with_transactions >= 10, "{with_transactions}");
    assert!(!rule_files().is_empty());
}
