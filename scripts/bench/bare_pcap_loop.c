/*
 * bare_pcap_loop: the throughput ceiling for reading a pcap file with libpcap.
 *
 * Default mode opens the file with pcap_open_offline(), calls pcap_next_ex()
 * for every record and touches each packet (sums its first byte, so the read
 * cannot be optimized away). Nothing else: no decoding, no state. Whatever a
 * real analyzer does costs time on top of this loop, so replay/bare is the
 * fraction of the ceiling the analyzer reaches.
 *
 * Output (one line, key=value, parsed by scripts/bench.sh):
 *   packets=N caplen_bytes=N wire_bytes=N seconds=S checksum=N
 *
 * --stats mode (not timed, used once to describe the capture): also decodes
 * Ethernet/IPv4/IPv6/TCP headers and prints frame-size and TCP figures:
 *   packets=N max_frame=N mean_frame=F frames_over_1514=N tcp_packets=N
 *   tcp_syn=N tcp_synack=N tcp_fin=N tcp_rst=N tcp_payload_packets=N
 * tcp_syn counts SYN-without-ACK packets, i.e. TCP connection attempts.
 *
 * Build: gcc -O2 -o bare_pcap_loop bare_pcap_loop.c -lpcap
 */
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int bare(const char *path)
{
    char err[PCAP_ERRBUF_SIZE];
    double t0 = now_s();
    pcap_t *p = pcap_open_offline(path, err);
    if (!p) {
        fprintf(stderr, "bare_pcap_loop: %s: %s\n", path, err);
        return 1;
    }
    struct pcap_pkthdr *h;
    const u_char *data;
    uint64_t packets = 0, caplen = 0, wire = 0, sum = 0;
    int rc;
    while ((rc = pcap_next_ex(p, &h, &data)) == 1) {
        packets++;
        caplen += h->caplen;
        wire += h->len;
        if (h->caplen > 0)
            sum += data[0];
    }
    if (rc == PCAP_ERROR) {
        fprintf(stderr, "bare_pcap_loop: %s: %s\n", path, pcap_geterr(p));
        pcap_close(p);
        return 1;
    }
    pcap_close(p);
    double secs = now_s() - t0;
    printf("packets=%llu caplen_bytes=%llu wire_bytes=%llu seconds=%.6f checksum=%llu\n",
           (unsigned long long)packets, (unsigned long long)caplen,
           (unsigned long long)wire, secs, (unsigned long long)sum);
    return 0;
}

static int stats(const char *path)
{
    char err[PCAP_ERRBUF_SIZE];
    pcap_t *p = pcap_open_offline(path, err);
    if (!p) {
        fprintf(stderr, "bare_pcap_loop: %s: %s\n", path, err);
        return 1;
    }
    if (pcap_datalink(p) != DLT_EN10MB) {
        fprintf(stderr, "bare_pcap_loop: --stats expects Ethernet (linktype %d found)\n",
                pcap_datalink(p));
        pcap_close(p);
        return 1;
    }
    struct pcap_pkthdr *h;
    const u_char *d;
    uint64_t packets = 0, bytes = 0, max = 0, over = 0, tcp = 0, syn = 0, synack = 0,
             fin = 0, rst = 0, payload = 0;
    int rc;
    while ((rc = pcap_next_ex(p, &h, &d)) == 1) {
        packets++;
        bytes += h->len;
        if (h->len > max)
            max = h->len;
        if (h->len > 1514)
            over++;
        uint32_t n = h->caplen, off = 14;
        if (n < 14)
            continue;
        uint16_t et = (uint16_t)(d[12] << 8 | d[13]);
        if (et == 0x8100 && n >= 18) {
            et = (uint16_t)(d[16] << 8 | d[17]);
            off = 18;
        }
        uint32_t l4 = 0, l4len = 0;
        uint8_t proto = 0;
        if (et == 0x0800 && n >= off + 20) {
            uint32_t ihl = (uint32_t)(d[off] & 0x0f) * 4;
            uint32_t tot = (uint32_t)(d[off + 2] << 8 | d[off + 3]);
            proto = d[off + 9];
            l4 = off + ihl;
            l4len = tot > ihl ? tot - ihl : 0;
        } else if (et == 0x86dd && n >= off + 40) {
            proto = d[off + 6]; /* no extension-header walk: bench traffic has none */
            l4 = off + 40;
            l4len = (uint32_t)(d[off + 4] << 8 | d[off + 5]);
        }
        if (proto != 6 || n < l4 + 20)
            continue;
        tcp++;
        uint8_t flags = d[l4 + 13];
        uint32_t thl = (uint32_t)(d[l4 + 12] >> 4) * 4;
        if ((flags & 0x12) == 0x02)
            syn++;
        if ((flags & 0x12) == 0x12)
            synack++;
        if (flags & 0x01)
            fin++;
        if (flags & 0x04)
            rst++;
        if (l4len > thl)
            payload++;
    }
    pcap_close(p);
    if (rc == PCAP_ERROR)
        return 1;
    printf("packets=%llu max_frame=%llu mean_frame=%.1f frames_over_1514=%llu tcp_packets=%llu "
           "tcp_syn=%llu tcp_synack=%llu tcp_fin=%llu tcp_rst=%llu tcp_payload_packets=%llu\n",
           (unsigned long long)packets, (unsigned long long)max,
           packets ? (double)bytes / (double)packets : 0.0, (unsigned long long)over,
           (unsigned long long)tcp, (unsigned long long)syn, (unsigned long long)synack,
           (unsigned long long)fin, (unsigned long long)rst, (unsigned long long)payload);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--stats") == 0)
        return stats(argv[2]);
    if (argc == 2)
        return bare(argv[1]);
    fprintf(stderr, "usage: bare_pcap_loop [--stats] FILE.pcap\n");
    return 2;
}
