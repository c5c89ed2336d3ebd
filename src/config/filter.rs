//! The kernel (BPF) filter for live capture: the configured one, or one derived from
//! the site's addresses and ports that still lets every fragment and IPv6 packet
//! through, since ports are only known after reassembly and extension headers.

use ipnet::IpNet;

use super::Config;

impl Config {
    /// The BPF filter for live capture: the configured one, or one derived from the site.
    pub fn capture_filter(&self) -> String {
        if let Some(f) = &self.capture.filter {
            return f.clone();
        }
        let any_of = |terms: Vec<String>| format!("({})", terms.join(" or "));
        let ports: Vec<String> = self
            .site
            .ports
            .iter()
            .map(|p| format!("port {p}"))
            .collect();
        let v4: Vec<String> = self
            .site
            .addresses
            .iter()
            .filter(|n| matches!(n, IpNet::V4(_)))
            .map(|n| format!("net {n}"))
            .collect();
        let v6: Vec<String> = self
            .site
            .addresses
            .iter()
            .filter(|n| matches!(n, IpNet::V6(_)))
            .map(|n| format!("net {n}"))
            .collect();
        let all_hosts = self.site.addresses.is_empty();
        // Whole TCP segments to or from the site's ports (libpcap's `port` matches
        // only unfragmented packets and first fragments).
        let mut tcp = vec!["tcp".to_owned()];
        if !ports.is_empty() {
            tcp.push(any_of(ports));
        }
        if !all_hosts {
            tcp.push(any_of(v4.iter().chain(&v6).cloned().collect()));
        }
        let tcp = format!("({})", tcp.join(" and "));
        let mut alternatives = Vec::new();
        // Every IPv4 fragment (more-fragments flag or an offset): ports are in the first
        // fragment only, so the site's ports are checked after reassembly.
        let frag = "ip[6:2] & 0x3fff != 0";
        if all_hosts {
            alternatives.push(format!("(ip and {frag})"));
        } else if !v4.is_empty() {
            alternatives.push(format!("(ip and {frag} and {})", any_of(v4)));
        }
        // Every IPv6 packet: extension headers (and fragments) hide the TCP header
        // from BPF, so IPv6 is filtered by address here and by port after decoding.
        if all_hosts {
            alternatives.push("ip6".to_owned());
        } else if !v6.is_empty() {
            alternatives.push(format!("(ip6 and {})", any_of(v6)));
        }
        // The TCP test goes last: a BPF load past the end of a short first fragment
        // rejects the packet outright, whatever alternatives would come after it.
        alternatives.push(tcp);
        let direct = alternatives.join(" or ");
        // The same behind one 802.1Q tag (`vlan` shifts the offsets that follow it).
        format!("{direct} or (vlan and ({direct}))")
    }
}
