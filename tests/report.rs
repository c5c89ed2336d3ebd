//! `tamperwatch report`: the publishable statistics page drawn by a real browser
//! (headless Chromium, Debian's `chromium`) and checked to have drawn something, and
//! the bad-input contract (one line, exit 1).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn tw(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tamperwatch"))
        .args(args)
        .output()
        .expect("run tamperwatch")
}

/// Replays the bundled captures into a fresh stats DB.
fn stats_db(dir: &Path) -> PathBuf {
    let stats = dir.join("stats.db");
    let mut args: Vec<std::ffi::OsString> = vec![
        "replay".into(),
        "--config".into(),
        root().join("pcaps/site.yaml").into(),
        "--stats".into(),
        stats.clone().into(),
    ];
    for sub in ["benign", "attacks"] {
        let mut pcaps: Vec<PathBuf> = std::fs::read_dir(root().join("pcaps").join(sub))
            .expect("pcaps")
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "pcap"))
            .collect();
        pcaps.sort();
        args.extend(pcaps.into_iter().map(Into::into));
    }
    let refs: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
    let out = tw(&refs);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stats
}

fn one_line_error(out: &Output, needle: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains(needle), "{err}");
}

#[test]
fn the_html_report_draws_in_headless_chromium() {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    let Some(chromium) = ["chromium", "chromium-browser"].into_iter().find(|c| {
        Command::new(c)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    }) else {
        assert!(!ci, "chromium is required when CI=true");
        eprintln!("skipped: chromium not installed (apt-get install chromium)");
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let stats = stats_db(dir.path());
    let html = dir.path().join("report.html");
    let out = tw(&[
        "report".as_ref(),
        "--stats".as_ref(),
        stats.as_os_str(),
        "--from".as_ref(),
        "2026-11-15".as_ref(),
        "--to".as_ref(),
        "2026-11-28".as_ref(),
        "--output".as_ref(),
        html.as_os_str(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let page = std::fs::read_to_string(&html).expect("html");
    for external in ["<script", "src=", "href=", "url(", "@import"] {
        assert!(
            !page.contains(external),
            "external resource or script: {external}"
        );
    }
    assert!(page.contains("<svg") && page.contains("&lt;10"));
    let png_path = dir.path().join("report.png");
    let mut child = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
        ])
        .arg(format!("--screenshot={}", png_path.display()))
        .arg("--window-size=1000,1400")
        .arg(format!("file://{}", html.display()))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start chromium");
    // Bounded wait; the browser is stopped by its PID if it hangs.
    let mut finished = false;
    for _ in 0..600 {
        if child.try_wait().expect("wait").is_some() {
            finished = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    if !finished {
        let _ = child.kill();
        let _ = child.wait();
        panic!("chromium did not finish in 60 s");
    }
    let file = std::fs::File::open(&png_path).expect("chromium wrote no PNG");
    let decoder = png::Decoder::new(file);
    let mut reader = decoder.read_info().expect("png header");
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).expect("png frame");
    assert_eq!((info.width, info.height), (1000, 1400));
    let channels = info.color_type.samples();
    let pixels = &buf[..info.buffer_size()];
    let mut colours = std::collections::HashSet::new();
    let mut blue = 0usize;
    let mut non_white = 0usize;
    for p in pixels.chunks(channels) {
        let rgb = (p[0], p[1], p[2]);
        colours.insert(rgb);
        if rgb != (255, 255, 255) {
            non_white += 1;
        }
        // The bars' blue (#2a6fb0).
        if rgb == (0x2a, 0x6f, 0xb0) {
            blue += 1;
        }
    }
    let total = pixels.len() / channels;
    assert!(
        colours.len() > 20,
        "only {} colours: blank page?",
        colours.len()
    );
    assert!(
        non_white * 100 > total * 3,
        "{non_white} of {total} pixels drawn"
    );
    assert!(blue > 2_000, "bar charts not drawn ({blue} bar pixels)");
    if let Ok(keep) = std::env::var("REPORT_PNG") {
        std::fs::copy(&png_path, keep).expect("keep png");
    }
}

#[test]
fn bad_input_is_one_line_and_exit_1() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("no/such/dir/stats.db");
    one_line_error(
        &tw(&["report".as_ref(), "--stats".as_ref(), missing.as_os_str()]),
        "no such file",
    );
    let stats = dir.path().join("s.db");
    {
        let c = rusqlite::Connection::open(&stats).expect("db");
        c.execute_batch("PRAGMA user_version = 99;")
            .expect("version");
    }
    one_line_error(
        &tw(&["report".as_ref(), "--stats".as_ref(), stats.as_os_str()]),
        "newer than this tamperwatch",
    );
    let good = stats_db(dir.path());
    let report = |extra: &[&str]| {
        let mut args: Vec<&std::ffi::OsStr> =
            vec!["report".as_ref(), "--stats".as_ref(), good.as_os_str()];
        args.extend(extra.iter().map(|a| std::ffi::OsStr::new(*a)));
        tw(&args)
    };
    one_line_error(&report(&["--from", "2026-02-30"]), "not a date");
    one_line_error(
        &report(&["--from", "2026-11-20", "--to", "2026-11-01"]),
        "is after",
    );
    // A locked database: another process holds an exclusive lock.
    {
        let c = rusqlite::Connection::open(&good).expect("db");
        c.execute_batch(
            "PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE; DELETE FROM stats WHERE day = 'x';",
        )
        .expect("lock");
        let out = report(&[]);
        one_line_error(&out, "stats database");
        c.execute_batch("COMMIT;").expect("unlock");
    }
    // An empty period is a report that says so, in every format.
    let out = report(&["--from", "2001-01-01", "--to", "2001-01-31"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("No statistics were recorded in this period")
    );
    let out = report(&[
        "--from",
        "2001-01-01",
        "--to",
        "2001-01-31",
        "--format",
        "json",
    ]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"empty\": true"));
}
