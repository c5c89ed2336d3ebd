//! What the packet stages are configured with: table size, server ports, site scope.

use std::net::SocketAddr;
use std::sync::Arc;

use crate::flow::{HeapPool, LimitsConfig, DEFAULT_MAX_FLOWS};

/// Settings of the packet stages.
#[derive(Debug, Clone)]
pub struct PipelineSettings {
    pub max_flows: usize,
    /// This worker's share of the memory budget ([`LimitsConfig::worker_bytes`]).
    pub memory_bytes: usize,
    /// The live daemon's workers pool most of their heap shares here and borrow where
    /// the flows are ([`HeapPool`]); replay leaves it unset and lends between epochs,
    /// so that its output does not depend on thread timing.
    pub heap_pool: Option<Arc<HeapPool>>,
    /// Ports that identify the server side of a flow picked up mid-stream.
    pub server_ports: Vec<u16>,
    /// When set, TCP packets not to or from the site are skipped after decoding. The
    /// live capture sets it: its kernel filter lets every fragment and every IPv6
    /// packet through (ports are not visible to BPF in them), so the site's ports are
    /// checked here. Replay leaves it unset and judges every flow in the capture.
    pub site: Option<SiteScope>,
    /// Decoded response body bytes kept per transaction (`response_body_prefix`, at
    /// most [`crate::http::session::MAX_RESPONSE_PREFIX_BYTES`]). No detector reads
    /// response bodies yet, so the default keeps none: copying every response's first
    /// 64 KiB cost 11 % of replay time on large-object traffic, and budget.
    pub response_body_prefix_bytes: usize,
    /// A request arriving this long or longer is slow (`detectors.slow_request_secs`):
    /// each second's sweep reports how many there are.
    pub slow_request_secs: u64,
}

/// The site's addresses and ports, as a test on decoded packets.
#[derive(Debug, Clone, Default)]
pub struct SiteScope {
    /// Empty means any address.
    pub addresses: Vec<ipnet::IpNet>,
    /// Empty means any port.
    pub ports: Vec<u16>,
}

impl SiteScope {
    /// The scope of a configuration's `site:` section.
    pub fn of(site: &crate::config::SiteConfig) -> SiteScope {
        SiteScope {
            addresses: site.addresses.clone(),
            ports: site.ports.clone(),
        }
    }

    /// True when either end of the packet is a site address and port.
    pub fn contains(&self, src: SocketAddr, dst: SocketAddr) -> bool {
        let is_site = |a: SocketAddr| {
            (self.addresses.is_empty() || self.addresses.iter().any(|n| n.contains(&a.ip())))
                && (self.ports.is_empty() || self.ports.contains(&a.port()))
        };
        is_site(dst) || is_site(src)
    }
}

impl Default for PipelineSettings {
    fn default() -> Self {
        PipelineSettings {
            max_flows: DEFAULT_MAX_FLOWS,
            memory_bytes: LimitsConfig::default().worker_bytes(1),
            heap_pool: None,
            server_ports: vec![80, 8080, 8000, 443, 3128, 8443],
            site: None,
            response_body_prefix_bytes: 0,
            slow_request_secs: crate::config::DetectorsConfig::default().slow_request_secs,
        }
    }
}

impl PipelineSettings {
    /// The defaults, with the site's ports added to the server ports.
    pub fn for_config(config: &crate::config::Config) -> Self {
        let mut settings = PipelineSettings {
            memory_bytes: config.limits.worker_bytes(1),
            slow_request_secs: config.detectors.slow_request_secs,
            ..PipelineSettings::default()
        };
        for p in &config.site.ports {
            if !settings.server_ports.contains(p) {
                settings.server_ports.push(*p);
            }
        }
        settings
    }
}
