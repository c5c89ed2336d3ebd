//! Fragment reassembly cost: 108,000 small fragments (hand-built views, no capture:
//! the cost measured is the defragmenter's alone), in order, in reverse and as many
//! interleaved datagrams. Prints fragments per second; run with
//! `cargo bench --bench fragments`.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

use tamperwatch::decode::fragment::{Defragmenter, FragmentView};

const FRAGMENTS: usize = 108_000;
const FRAGMENT_BYTES: usize = 8;

fn view(id: u32, index: usize, last: bool, payload: &[u8]) -> FragmentView<'_> {
    FragmentView {
        src: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
        dst: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2)),
        id,
        protocol: 6,
        offset_bytes: (index * FRAGMENT_BYTES) as u32,
        more_fragments: !last,
        payload,
    }
}

fn run(name: &str, order: impl Fn(usize) -> (u32, usize, bool)) {
    let payload = [0x41u8; FRAGMENT_BYTES];
    let mut d = Defragmenter::default();
    let started = Instant::now();
    let mut whole = 0;
    for n in 0..FRAGMENTS {
        let (id, index, last) = order(n);
        if let Ok(Some(_)) = d.insert(&view(id, index, last, &payload), 0) {
            whole += 1;
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{name:<24} {FRAGMENTS} fragments in {secs:.3} s ({:.2} M fragments/s), {whole} datagrams",
        FRAGMENTS as f64 / secs / 1e6
    );
}

fn main() {
    // 8,000 fragments per datagram (64,000 bytes), 13.5 datagrams.
    const PER: usize = 8_000;
    run("in order", |n| {
        ((n / PER) as u32, n % PER, n % PER == PER - 1)
    });
    run("reverse", |n| {
        ((n / PER) as u32, PER - 1 - n % PER, n % PER == 0)
    });
    // Odd-numbered fragments first, then the even ones: every datagram is full of holes
    // until its second half arrives.
    run("odd then even", |n| {
        let (id, k) = (n / PER, n % PER);
        let index = if k < PER / 2 {
            2 * k + 1
        } else {
            2 * (k - PER / 2)
        };
        (id as u32, index, index == PER - 1)
    });
    // Only the tail fragment of 108,000 different datagrams: a flood that never completes.
    run("tails only", |n| (n as u32, 7_999, true));
    // 1,000 datagrams of 108 fragments, round-robin in windows of 100 datagrams.
    run("interleaved", |n| {
        let (window, k) = (n / 10_800, n % 10_800);
        ((window * 100 + k % 100) as u32, k / 100, k / 100 == 107)
    });
}
