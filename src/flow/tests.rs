use super::*;

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("socket address")
}

const SYN: TcpFlags = TcpFlags(TcpFlags::SYN);
const ACK: TcpFlags = TcpFlags(TcpFlags::ACK);

#[test]
fn syn_sender_is_the_client() {
    let mut t: FlowTable<()> = FlowTable::new(16, vec![8080]);
    let mut ended = |_: Flow<()>, _: FlowEnd| {};
    let c = addr("10.0.0.1:40000");
    let s = addr("10.0.0.2:8080");
    let f = t
        .lookup_or_create(c, s, SYN, false, Timestamp(0), &mut ended)
        .expect("flow");
    assert_eq!(f.client(), c);
    assert_eq!(f.direction_of(s), Direction::ToClient);
}

#[test]
fn mid_stream_pickup_uses_server_ports() {
    let mut t: FlowTable<()> = FlowTable::new(16, vec![8080]);
    let mut ended = |_: Flow<()>, _: FlowEnd| {};
    let server = addr("10.0.0.2:8080");
    let client = addr("10.0.0.1:40000");
    let f = t
        .lookup_or_create(server, client, ACK, true, Timestamp(0), &mut ended)
        .expect("flow");
    assert_eq!(f.server(), server);
    assert_eq!(t.stats.picked_up_mid_stream, 1);
}

#[test]
fn lone_rst_creates_no_flow() {
    let mut t: FlowTable<()> = FlowTable::new(16, vec![8080]);
    let mut ended = |_: Flow<()>, _: FlowEnd| {};
    let rst = TcpFlags(TcpFlags::RST);
    assert!(t
        .lookup_or_create(
            addr("1.1.1.1:1"),
            addr("2.2.2.2:2"),
            rst,
            false,
            Timestamp(0),
            &mut ended
        )
        .is_none());
    assert!(t.is_empty());
}

#[test]
fn idle_flows_expire_by_packet_time() {
    let mut t: FlowTable<()> = FlowTable::new(16, vec![8080]);
    let mut ends = Vec::new();
    let mut ended = |f: Flow<()>, e: FlowEnd| ends.push((f.id, e));
    t.lookup_or_create(
        addr("1.1.1.1:1000"),
        addr("2.2.2.2:80"),
        SYN,
        false,
        Timestamp(0),
        &mut ended,
    );
    t.expire_idle(Timestamp::from_secs_micros(10, 0), &mut ended);
    assert_eq!(t.len(), 1);
    t.expire_idle(Timestamp::from_secs_micros(31, 0), &mut ended);
    assert_eq!(ends, vec![(1, FlowEnd::TimedOut)]);
}

#[test]
fn cap_evicts_the_oldest_idle_flow() {
    let mut t: FlowTable<()> = FlowTable::new(2, vec![8080]);
    let mut ends = Vec::new();
    let mut ended = |f: Flow<()>, e: FlowEnd| ends.push((f.id, e));
    for (i, port) in [1001u16, 1002, 1003].iter().enumerate() {
        let src = SocketAddr::new("1.1.1.1".parse().expect("ip"), *port);
        t.lookup_or_create(
            src,
            addr("2.2.2.2:80"),
            SYN,
            false,
            Timestamp(i as i64),
            &mut ended,
        );
    }
    assert_eq!(ends, vec![(1, FlowEnd::Evicted)]);
    assert_eq!(t.len(), 2);
    assert_eq!(t.stats.evicted, 1);
}

#[test]
fn fin_both_ways_closes_and_rst_closes_at_once() {
    let mut t: FlowTable<()> = FlowTable::new(4, vec![8080]);
    let mut ended = |_: Flow<()>, _: FlowEnd| {};
    let c = addr("1.1.1.1:1000");
    let s = addr("2.2.2.2:80");
    let f = t
        .lookup_or_create(c, s, SYN, false, Timestamp(0), &mut ended)
        .expect("flow");
    f.track_flags(Direction::ToServer, TcpFlags(TcpFlags::FIN | TcpFlags::ACK));
    assert_eq!(f.state, TcpState::Closing);
    f.track_flags(Direction::ToClient, TcpFlags(TcpFlags::FIN | TcpFlags::ACK));
    assert_eq!(f.state, TcpState::Closed);
}

#[test]
fn bare_ack_for_unknown_connection_creates_nothing() {
    let mut t: FlowTable<()> = FlowTable::new(4, vec![8080]);
    let mut ended = |_: Flow<()>, _: FlowEnd| {};
    assert!(t
        .lookup_or_create(
            addr("1.1.1.1:1000"),
            addr("2.2.2.2:80"),
            ACK,
            false,
            Timestamp(0),
            &mut ended
        )
        .is_none());
}

/// An app state that says whether its flow is mid-message.
#[derive(Debug, Default)]
struct Busy(bool);

impl EvictionHint for Busy {
    fn mid_message(&self) -> bool {
        self.0
    }
}

#[test]
fn eviction_gives_up_data_less_flows_before_established_and_mid_message_last() {
    // Cap 8: eviction takes one flow (an eighth) each time the table is full.
    let mut t: FlowTable<Busy> = FlowTable::new(8, vec![8080]);
    let mut ends: Vec<u64> = Vec::new();
    let server = addr("2.2.2.2:80");
    // Flow 1: the oldest, mid-upload. Flow 2: established with data, idle.
    for (port, mid) in [(1001u16, true), (1002, false)] {
        let mut ended = |f: Flow<Busy>, _: FlowEnd| ends.push(f.id);
        let f = t
            .lookup_or_create(
                addr(&format!("1.1.1.1:{port}")),
                server,
                SYN,
                false,
                Timestamp(0),
                &mut ended,
            )
            .expect("flow");
        f.bytes[0] = 500;
        f.app = Busy(mid);
    }
    // Then a SYN flood from many sources: 20 data-less flows.
    for i in 0..20u16 {
        let mut ended = |f: Flow<Busy>, _: FlowEnd| ends.push(f.id);
        let src = SocketAddr::new(
            format!("10.0.{}.{}", i / 200, i % 200 + 1)
                .parse()
                .expect("ip"),
            4000,
        );
        t.lookup_or_create(
            src,
            server,
            SYN,
            false,
            Timestamp(1 + i64::from(i)),
            &mut ended,
        );
    }
    assert!(
        !ends.contains(&1) && !ends.contains(&2),
        "evicted: {ends:?}"
    );
    assert_eq!(t.stats.evicted_without_data, t.stats.evicted);
    // Fill the table with established flows: the idle established one goes before
    // the flow mid-upload.
    for i in 0..8u16 {
        let mut ended = |f: Flow<Busy>, _: FlowEnd| ends.push(f.id);
        let src = SocketAddr::new("3.3.3.3".parse().expect("ip"), 5000 + i);
        let f = t
            .lookup_or_create(
                src,
                server,
                SYN,
                false,
                Timestamp(100 + i64::from(i)),
                &mut ended,
            )
            .expect("flow");
        f.bytes[0] = 10;
    }
    let pos = |id| ends.iter().position(|&e| e == id);
    assert!(
        pos(2).is_some(),
        "the idle established flow was kept: {ends:?}"
    );
    assert!(pos(1).is_none() || pos(1) > pos(2), "{ends:?}");
    assert!(t.stats.evicted_established >= 1);
}

/// Opens a connection from `c` to `s`, carries a byte, closes it and retires it, as the
/// pipeline does once it flushed a closed flow.
fn close_and_retire(t: &mut FlowTable<()>, c: SocketAddr, s: SocketAddr, at: i64) -> u64 {
    let mut ended = |_: Flow<()>, _: FlowEnd| {};
    let now = Timestamp(at);
    let f = t
        .lookup_or_create(c, s, SYN, false, now, &mut ended)
        .expect("flow");
    f.bytes[0] = 1;
    f.track_flags(Direction::ToServer, TcpFlags(TcpFlags::RST));
    assert_eq!(f.state, TcpState::Closed);
    let id = f.id;
    t.retire(c, s);
    id
}

#[test]
fn a_closed_flow_lingers_apart_and_absorbs_late_packets() {
    let mut t: FlowTable<()> = FlowTable::new(16, vec![8080]);
    let (c, s) = (addr("10.0.0.1:40000"), addr("10.0.0.2:8080"));
    close_and_retire(&mut t, c, s, 0);
    assert_eq!(t.flows.len(), 0, "the open table holds only open flows");
    assert_eq!(t.len(), 1, "a closed flow still counts against the cap");
    let mut ends = Vec::new();
    let mut ended = |f: Flow<()>, e: FlowEnd| ends.push((f.id, e));
    // A late data segment starts nothing and keeps the closed flow a while longer.
    let late = Timestamp(8 * 1_000_000);
    assert!(t
        .lookup_or_create(s, c, ACK, true, late, &mut ended)
        .is_none());
    assert_eq!(t.len(), 1);
    t.expire_idle(Timestamp(12 * 1_000_000), &mut ended);
    assert_eq!(
        t.len(),
        1,
        "10 s after the late packet, not after the close"
    );
    t.expire_idle(Timestamp(19 * 1_000_000), &mut ended);
    assert!(t.is_empty());
    assert_eq!(t.stats.closed, 1);
    assert_eq!(ends.len(), 1);
    assert_eq!(ends[0].1, FlowEnd::Closed);
}

#[test]
fn a_bare_ack_after_the_close_neither_starts_nor_prolongs_anything() {
    let mut t: FlowTable<()> = FlowTable::new(16, vec![8080]);
    let (c, s) = (addr("10.0.0.1:40000"), addr("10.0.0.2:8080"));
    close_and_retire(&mut t, c, s, 0);
    let mut ends = Vec::new();
    let mut ended = |f: Flow<()>, e: FlowEnd| ends.push((f.id, e));
    // The last ACK of a close, and a stray FIN: no flow, and the linger still runs
    // from the close.
    for flags in [ACK, TcpFlags(TcpFlags::FIN | TcpFlags::ACK)] {
        assert!(t
            .lookup_or_create(c, s, flags, false, Timestamp(8 * 1_000_000), &mut ended)
            .is_none());
    }
    assert_eq!(t.flows.len(), 0);
    assert_eq!(t.len(), 1);
    t.expire_idle(Timestamp(11 * 1_000_000), &mut ended);
    assert!(t.is_empty(), "10 s after the close");
    assert_eq!(ends.len(), 1);
    assert_eq!(ends[0].1, FlowEnd::Closed);
}

#[test]
fn a_new_syn_on_a_closed_flow_is_a_new_connection() {
    let mut t: FlowTable<()> = FlowTable::new(16, vec![8080]);
    let (c, s) = (addr("10.0.0.1:40000"), addr("10.0.0.2:8080"));
    let first = close_and_retire(&mut t, c, s, 0);
    let mut ends = Vec::new();
    let mut ended = |f: Flow<()>, e: FlowEnd| ends.push((f.id, f.client(), f.finished, e));
    let f = t
        .lookup_or_create(c, s, SYN, false, Timestamp(1_000_000), &mut ended)
        .expect("a new flow");
    assert_ne!(f.id, first);
    assert!(!f.finished);
    assert_eq!(t.flows.len(), 1);
    assert_eq!(t.len(), 1);
    // The old connection was handed back finished, with its sides.
    assert_eq!(ends, vec![(first, c, true, FlowEnd::Closed)]);
}

#[test]
fn closed_flows_rank_for_eviction_as_the_flows_they_were() {
    let mut t: FlowTable<()> = FlowTable::new(4, vec![8080]);
    let s = addr("10.0.0.2:8080");
    // An older closed flow that carried data, and a newer open one without.
    let closed = close_and_retire(&mut t, addr("10.0.0.1:40000"), s, 0);
    let mut ends = Vec::new();
    let mut ended = |f: Flow<()>, e: FlowEnd| ends.push((f.id, e));
    let dataless = t
        .lookup_or_create(
            addr("10.0.0.1:40001"),
            s,
            SYN,
            false,
            Timestamp(1),
            &mut ended,
        )
        .expect("flow")
        .id;
    let mut open_with_data = |t: &mut FlowTable<()>, port: u16, at: i64| {
        let c = addr(&format!("10.0.0.1:{port}"));
        let f = t
            .lookup_or_create(c, s, ACK, true, Timestamp(at), &mut ended)
            .expect("flow");
        f.bytes[0] = 1;
    };
    for port in 40002..40004 {
        open_with_data(&mut t, port, 2);
    }
    // The table is full: the data-less flow goes first, then the oldest with data,
    // which is the closed one.
    for port in 40004..40006 {
        open_with_data(&mut t, port, 3);
    }
    let evicted: Vec<u64> = ends.iter().map(|(id, _)| *id).collect();
    assert_eq!(evicted, vec![dataless, closed]);
    assert!(ends.iter().all(|(_, e)| *e == FlowEnd::Evicted));
    assert_eq!(t.stats.evicted_without_data, 1);
    assert_eq!(t.stats.evicted_established, 1);
}

#[test]
fn the_end_of_capture_ends_open_flows_in_order_and_forgets_closed_ones() {
    let mut t: FlowTable<()> = FlowTable::new(16, vec![8080]);
    let s = addr("10.0.0.2:8080");
    close_and_retire(&mut t, addr("10.0.0.1:40000"), s, 0);
    let mut none = |_: Flow<()>, _: FlowEnd| {};
    let mut opened = Vec::new();
    for port in [40003, 40001, 40002] {
        let c = addr(&format!("10.0.0.1:{port}"));
        let f = t
            .lookup_or_create(c, s, SYN, false, Timestamp(1_000_000), &mut none)
            .expect("flow");
        opened.push(f.id);
    }
    assert_eq!(t.len(), 4);
    let mut ends = Vec::new();
    t.drain_all(&mut |f: Flow<()>, e: FlowEnd| ends.push((f.id, e)));
    assert_eq!(
        ends,
        opened
            .iter()
            .map(|&id| (id, FlowEnd::Shutdown))
            .collect::<Vec<_>>(),
        "open flows in order of creation, the closed one not again"
    );
    assert!(t.is_empty());
    assert_eq!(t.heap_bytes(), 0, "the closed store's memory is given back");
}
