//! The memory budget: the stated size of a bare SYN flow, accounting as buffers grow
//! and shrink, and the emergency steps in order.

use std::net::SocketAddr;
use std::sync::Arc;

use super::budget::*;
use super::heap_pool::{self, HeapPool};
use super::*;
use crate::reassembly::{Chunk, SeqNumber};

const SYN: TcpFlags = TcpFlags(TcpFlags::SYN);
const ACK: TcpFlags = TcpFlags(TcpFlags::ACK);

fn t(secs: i64) -> Timestamp {
    Timestamp::from_secs_micros(secs, 0)
}

fn client(n: u32) -> SocketAddr {
    SocketAddr::new(
        std::net::IpAddr::from((0x0a00_0000 + n).to_be_bytes()),
        40_000,
    )
}

fn server() -> SocketAddr {
    "192.0.2.10:80".parse().expect("addr")
}

/// An application layer holding a set number of heap bytes.
#[derive(Debug, Default)]
struct Heavy(usize);

impl EvictionHint for Heavy {
    fn heap_bytes(&self) -> usize {
        self.0
    }
}

#[test]
fn a_bare_syn_flow_holds_its_stated_bytes_and_nothing_on_the_heap() {
    type Slot = (FlowKey, Flow<crate::pipeline::FlowApp>);
    let slot = std::mem::size_of::<Slot>() + 1;
    assert_eq!(FLOW_SLOT_BYTES, slot);
    // A slot of a table kept at most 7/16 full costs 16/7 of its size.
    assert!(slot * 16 / 7 <= BARE_SYN_FLOW_BYTES, "{slot}");
    let mut table: FlowTable<crate::pipeline::FlowApp> =
        FlowTable::with_budget(DEFAULT_MAX_FLOWS, vec![80], 8 << 20);
    let mut ended = |_: Flow<_>, _: FlowEnd| {};
    let flow = table
        .lookup_or_create(client(1), server(), SYN, false, t(0), &mut ended)
        .expect("flow");
    flow.streams[0].set_isn(SeqNumber(1000));
    let change = flow.reaccount();
    assert_eq!(change, (0, 0), "a SYN allocates nothing beyond its slot");
    table.account(change);
    assert_eq!(table.heap_bytes(), 0);
}

#[test]
fn held_bytes_follow_buffers_as_they_grow_and_shrink() {
    let mut table: FlowTable<Heavy> = FlowTable::with_budget(1024, vec![80], 8 << 20);
    let mut ended = |_: Flow<Heavy>, _: FlowEnd| {};
    let flow = table
        .lookup_or_create(client(1), server(), ACK, true, t(0), &mut ended)
        .expect("flow");
    // An out-of-order segment is buffered: the direction now holds it.
    flow.streams[0].insert_segment(SeqNumber(100), b"x", &mut |_| {});
    flow.streams[0].insert_segment(SeqNumber(200), &[7u8; 5000], &mut |_| {});
    flow.app.0 = 10_000;
    let change = flow.reaccount();
    table.account(change);
    let held = table.heap_bytes();
    assert!(held >= 15_000, "{held}");
    // The hole is filled: the buffer is delivered and released.
    let flow = table
        .lookup_or_create(client(1), server(), ACK, true, t(1), &mut ended)
        .expect("flow");
    let mut delivered = 0;
    flow.streams[0].insert_segment(SeqNumber(101), &[1u8; 99], &mut |c| {
        if let Chunk::Data(d) = c {
            delivered += d.len();
        }
    });
    assert_eq!(delivered, 99 + 5000);
    flow.app.0 = 0;
    let change = flow.reaccount();
    table.account(change);
    assert!(table.heap_bytes() < 1000, "{}", table.heap_bytes());
    // A flow leaving the table takes its bytes with it.
    table.drain_all(&mut ended);
    assert_eq!(table.heap_bytes(), 0);
}

#[test]
fn a_syn_flood_fills_the_slots_and_only_data_less_flows_are_dropped() {
    let budget = 1 << 20;
    let mut table: FlowTable<Heavy> = FlowTable::with_budget(DEFAULT_MAX_FLOWS, vec![80], budget);
    let slots = flow_slots_for(budget);
    let mut ends = Vec::new();
    let mut ended = |f: Flow<Heavy>, e: FlowEnd| ends.push((f.id, e));
    // One established connection carrying data, then a flood of spoofed SYNs.
    let f = table
        .lookup_or_create(client(0), server(), ACK, true, t(0), &mut ended)
        .expect("flow");
    f.bytes[0] = 100;
    // The table grows as flows come, up to the buckets the budget reserved.
    let capacity = table_buckets_for(budget) / 8 * 7;
    assert!(table.flows.capacity() < capacity);
    for n in 1..(slots as u32 * 4) {
        table.lookup_or_create(client(n), server(), SYN, false, t(1), &mut ended);
    }
    assert!(table.len() <= slots);
    // Churn through tombstones never made the hash table grow past its reservation.
    assert!(
        table.flows.capacity() <= capacity,
        "{}",
        table.flows.capacity()
    );
    let p = table.stats.pressure;
    assert!(p.dataless_dropped >= slots as u64 * 3, "{p:?}");
    assert_eq!(p.established_evicted, 0);
    assert!(
        !ends.iter().any(|(id, _)| *id == 1),
        "the real connection stays"
    );
}

/// A table whose flows are made heavy until the heap share runs out.
fn heavy_table(now: i64) -> (FlowTable<Heavy>, usize) {
    let budget = 4 << 20;
    let mut table: FlowTable<Heavy> = FlowTable::with_budget(DEFAULT_MAX_FLOWS, vec![80], budget);
    let mut ended = |_: Flow<Heavy>, _: FlowEnd| {};
    let heap_share = budget - table_buckets_for(budget) * FLOW_SLOT_BYTES;
    let per_flow = heap_share / 20;
    for n in 0..16u32 {
        let f = table
            .lookup_or_create(
                client(n),
                server(),
                ACK,
                true,
                t(now + i64::from(n)),
                &mut ended,
            )
            .expect("flow");
        f.bytes[0] = 1;
        f.app.0 = per_flow;
        let change = f.reaccount();
        table.account(change);
    }
    (table, per_flow)
}

#[test]
fn heap_pressure_shortens_timeouts_before_evicting_established_flows() {
    let (mut table, per_flow) = heavy_table(0);
    let mut ends = Vec::new();
    let mut ended = |f: Flow<Heavy>, e: FlowEnd| ends.push((f.id, e));
    // Five more flows, 60 s later: the first sixteen are idle past the short
    // established timeout (30 s) but not the normal one (300 s).
    for n in 100..105u32 {
        let f = table
            .lookup_or_create(client(n), server(), ACK, true, t(60), &mut ended)
            .expect("flow");
        f.bytes[0] = 1;
        f.app.0 = per_flow;
        let change = f.reaccount();
        table.account(change);
    }
    assert!(table.over_budget());
    table.relieve(t(60), &mut ended, &mut |_, _| 0);
    let p = table.stats.pressure;
    assert_eq!(p.timeouts_shortened, 1);
    assert_eq!(p.short_timeout_expired, 16, "{p:?}");
    assert_eq!(p.established_evicted, 0, "timeouts sufficed: {p:?}");
    assert!(ends.iter().all(|(_, e)| *e == FlowEnd::TimedOut));
    assert!(!table.over_budget());
}

#[test]
fn the_last_resort_evicts_the_oldest_established_flows_first() {
    let (mut table, per_flow) = heavy_table(0);
    let mut ends = Vec::new();
    let mut ended = |f: Flow<Heavy>, e: FlowEnd| ends.push((f.id, e));
    for n in 100..105u32 {
        let f = table
            .lookup_or_create(client(n), server(), ACK, true, t(20), &mut ended)
            .expect("flow");
        f.bytes[0] = 1;
        f.app.0 = per_flow;
        let change = f.reaccount();
        table.account(change);
    }
    assert!(table.over_budget());
    let mut trims = 0;
    table.relieve(t(20), &mut ended, &mut |_, _| {
        trims += 1;
        0
    });
    let p = table.stats.pressure;
    assert_eq!(p.timeouts_shortened, 1);
    assert_eq!(p.windows_shrunk, 1);
    assert!(p.established_evicted >= 5, "{p:?}");
    // Every eviction is a flush of the oldest flows, in age order.
    let ids: Vec<u64> = ends.iter().map(|(id, _)| *id).collect();
    let expected: Vec<u64> = (1..=ids.len() as u64).collect();
    assert_eq!(ids, expected);
    assert!(ends.iter().all(|(_, e)| *e == FlowEnd::Evicted));
    assert!(!table.over_budget());
}

#[test]
fn shrinking_windows_releases_buffered_bytes_as_gaps() {
    let mut r = crate::reassembly::StreamReassembler::default();
    r.insert_segment(SeqNumber(1), b"a", &mut |_| {});
    for i in 0..8u32 {
        r.insert_segment(SeqNumber(1000 + i * 20_000), &[0u8; 10_000], &mut |_| {});
    }
    assert_eq!(r.pending_bytes(), 80_000);
    let mut gaps = 0;
    let released = r.shrink_pending(PRESSURE_PENDING_BYTES / 4, &mut |c| {
        if let Chunk::Gap(_) = c {
            gaps += 1;
        }
    });
    assert!(r.pending_bytes() <= PRESSURE_PENDING_BYTES / 4);
    assert!(released >= 60_000, "{released}");
    assert!(gaps >= 6);
}

/// Adds a flow from `client(n)` holding `bytes` on the heap.
fn add_heavy(table: &mut FlowTable<Heavy>, n: u32, bytes: usize, now: i64) {
    let mut ended = |_: Flow<Heavy>, _: FlowEnd| {};
    let f = table
        .lookup_or_create(client(n), server(), ACK, true, t(now), &mut ended)
        .expect("flow");
    f.bytes[0] = 1;
    f.app.0 = bytes;
    let change = f.reaccount();
    table.account(change);
}

/// Two live workers' tables sharing one pool, as the daemon builds them.
fn pooled_pair(budget: usize) -> (FlowTable<Heavy>, FlowTable<Heavy>, Arc<HeapPool>) {
    let pool = Arc::new(HeapPool::new());
    let mut a: FlowTable<Heavy> = FlowTable::with_budget(DEFAULT_MAX_FLOWS, vec![80], budget);
    let mut b: FlowTable<Heavy> = FlowTable::with_budget(DEFAULT_MAX_FLOWS, vec![80], budget);
    a.join_pool(Arc::clone(&pool));
    b.join_pool(Arc::clone(&pool));
    (a, b, pool)
}

#[test]
fn a_flood_on_one_worker_borrows_the_others_heap_before_any_emergency_step() {
    let budget = 4 << 20;
    let heap_share = budget - table_buckets_for(budget) * FLOW_SLOT_BYTES;
    let (mut a, b, pool) = pooled_pair(budget);
    assert_eq!(a.heap_limit, heap_share / heap_pool::OWN_SHARE_DIVISOR);
    assert_eq!(pool.free_bytes(), 2 * (heap_share - a.heap_limit));
    // One worker's flows grow to one and a half heap shares: more than a fixed share
    // holds, less than the two workers' shares together.
    let per_flow = heap_share / 20;
    let mut ended = |_: Flow<Heavy>, _: FlowEnd| {};
    for n in 0..30u32 {
        add_heavy(&mut a, n, per_flow, 0);
        if a.over_budget() && !a.borrow_heap() {
            a.relieve(t(0), &mut ended, &mut |_, _| 0);
        }
    }
    let p = a.stats.pressure;
    assert_eq!(p.timeouts_shortened + p.established_evicted, 0, "{p:?}");
    assert_eq!(p.pool_refusals, 0);
    assert_eq!(a.len(), 30);
    assert!(!a.over_budget());
    assert_eq!(p.borrowed_bytes as usize, a.borrowed);
    // The limits never add up to more than the two heap shares.
    assert_eq!(
        a.heap_limit + b.heap_limit + pool.free_bytes(),
        2 * heap_share
    );
    // The same flows on a table with a fixed share: evicted.
    let mut fixed: FlowTable<Heavy> = FlowTable::with_budget(DEFAULT_MAX_FLOWS, vec![80], budget);
    for n in 0..30u32 {
        add_heavy(&mut fixed, n, per_flow, 0);
        if fixed.over_budget() && !fixed.borrow_heap() {
            fixed.relieve(t(0), &mut ended, &mut |_, _| 0);
        }
    }
    assert!(fixed.stats.pressure.established_evicted > 0);
}

#[test]
fn a_spent_pool_leaves_the_emergency_steps_and_each_worker_its_own_quarter() {
    let budget = 4 << 20;
    let heap_share = budget - table_buckets_for(budget) * FLOW_SLOT_BYTES;
    let (mut a, mut b, pool) = pooled_pair(budget);
    let own = b.heap_limit;
    let per_flow = heap_share / 20;
    let mut ends = Vec::new();
    let mut ended = |f: Flow<Heavy>, e: FlowEnd| ends.push((f.id, e));
    // Three heap shares' worth on one worker: the pool runs out, then the steps run.
    for n in 0..60u32 {
        add_heavy(&mut a, n, per_flow, 0);
        if a.over_budget() && !a.borrow_heap() {
            a.relieve(t(0), &mut ended, &mut |_, _| 0);
        }
    }
    let p = a.stats.pressure;
    assert!(p.pool_refusals >= 1, "{p:?}");
    assert!(p.established_evicted > 0, "{p:?}");
    assert!(ends.iter().all(|(_, e)| *e == FlowEnd::Evicted));
    assert!(!a.over_budget());
    assert!(pool.free_bytes() < pool.grant_bytes());
    // The other worker still has its own quarter, whatever the first one borrowed.
    for n in 100..103u32 {
        add_heavy(&mut b, n, own / 4, 0);
    }
    assert!(!b.over_budget());
    assert_eq!(
        a.heap_limit + b.heap_limit + pool.free_bytes(),
        2 * heap_share
    );
}

#[test]
fn loans_are_repaid_at_the_sweep_once_the_flows_are_gone() {
    let budget = 4 << 20;
    let heap_share = budget - table_buckets_for(budget) * FLOW_SLOT_BYTES;
    let (mut a, _b, pool) = pooled_pair(budget);
    let own = a.heap_limit;
    let free_at_start = pool.free_bytes();
    for n in 0..20u32 {
        add_heavy(&mut a, n, heap_share / 20, 0);
        if a.over_budget() {
            assert!(a.borrow_heap());
        }
    }
    assert!(a.borrowed > 0);
    // Within the same second nothing is repaid; at the next second's sweep every
    // flow is idle past its timeout (established: 300 s) and the loan goes back.
    let mut ended = |_: Flow<Heavy>, _: FlowEnd| {};
    a.expire_idle(t(0), &mut ended);
    assert!(a.borrowed > 0);
    a.expire_idle(t(400), &mut ended);
    assert_eq!(a.len(), 0);
    assert_eq!(a.borrowed, 0);
    assert_eq!(a.heap_limit, own);
    assert_eq!(a.stats.pressure.borrowed_bytes, 0);
    assert_eq!(pool.free_bytes(), free_at_start);
}
