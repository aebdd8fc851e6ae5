package gateway

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
)

// dnsServer is a small authoritative DNS server on loopback, over UDP and
// TCP on one port, whose answers a test sets and changes: the A and AAAA
// records of each name, or a response code, or silence. A name it was
// told nothing of is NXDOMAIN. It answers a UDP query whose answer does
// not fit the client's UDP size (512 bytes, or what its EDNS0 record
// says) with the truncated flag and no records, as real servers do, so
// that the client asks again over TCP.
type dnsServer struct {
	addr string // "127.0.0.1:port", UDP and TCP
	udp  net.PacketConn
	tcp  net.Listener
	wg   sync.WaitGroup

	mu      sync.Mutex
	zone    map[string]*dnsName // by lowercase name, fully qualified
	queries map[dnsQuestion]int
}

// dnsName is what the server answers for one name.
type dnsName struct {
	addrs  []netip.Addr
	rcode  int  // 0 (NOERROR) unless set
	silent bool // drop the queries: the client times out
}

// dnsQuestion is a name and a query type, as the server counts queries.
type dnsQuestion struct {
	name  string
	qtype uint16
}

// DNS record types, classes and response codes the server knows.
const (
	dnsTypeA    = 1
	dnsTypeAAAA = 28
	dnsTypeOPT  = 41
	dnsClassIN  = 1

	rcodeServFail = 2
	rcodeNXDomain = 3
	rcodeRefused  = 5
)

// startDNSServer starts a dnsServer, stopped when the test ends.
func startDNSServer(t testing.TB) *dnsServer {
	t.Helper()
	s := &dnsServer{zone: map[string]*dnsName{}, queries: map[dnsQuestion]int{}}
	for try := 0; ; try++ {
		udp, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		tcp, err := net.Listen("tcp", udp.LocalAddr().String())
		if err == nil {
			s.udp, s.tcp, s.addr = udp, tcp, udp.LocalAddr().String()
			break
		}
		udp.Close()
		if try == 10 {
			t.Fatalf("no port free for both UDP and TCP: %v", err)
		}
	}
	s.wg.Add(2)
	go s.serveUDP()
	go s.serveTCP()
	t.Cleanup(func() {
		s.udp.Close()
		s.tcp.Close()
		s.wg.Wait()
	})
	return s
}

// fqdn returns name in the zone's spelling: lowercase, with the root's dot.
func fqdn(name string) string {
	return strings.ToLower(strings.TrimSuffix(name, ".")) + "."
}

// set makes name answer with addrs, in that order; no addrs is NOERROR
// without records.
func (s *dnsServer) set(name string, addrs ...string) {
	n := &dnsName{}
	for _, a := range addrs {
		n.addrs = append(n.addrs, netip.MustParseAddr(a))
	}
	s.mu.Lock()
	s.zone[fqdn(name)] = n
	s.mu.Unlock()
}

// fail makes name answer with rcode (SERVFAIL, NXDOMAIN, REFUSED) and no
// records; the addresses it had are forgotten.
func (s *dnsServer) fail(name string, rcode int) {
	s.mu.Lock()
	s.zone[fqdn(name)] = &dnsName{rcode: rcode}
	s.mu.Unlock()
}

// silence makes the server drop every query for name.
func (s *dnsServer) silence(name string) {
	s.mu.Lock()
	s.zone[fqdn(name)] = &dnsName{silent: true}
	s.mu.Unlock()
}

// queried returns how many A and AAAA queries for name the server got.
func (s *dnsServer) queried(name string) (a, aaaa int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queries[dnsQuestion{fqdn(name), dnsTypeA}], s.queries[dnsQuestion{fqdn(name), dnsTypeAAAA}]
}

func (s *dnsServer) serveUDP() {
	defer s.wg.Done()
	buf := make([]byte, 65535)
	for {
		n, from, err := s.udp.ReadFrom(buf)
		if err != nil {
			return
		}
		if resp := s.answer(buf[:n], true); resp != nil {
			s.udp.WriteTo(resp, from)
		}
	}
}

func (s *dnsServer) serveTCP() {
	defer s.wg.Done()
	var conns sync.WaitGroup
	defer conns.Wait()
	for {
		c, err := s.tcp.Accept()
		if err != nil {
			return
		}
		conns.Go(func() {
			defer c.Close()
			for {
				var size [2]byte
				if _, err := io.ReadFull(c, size[:]); err != nil {
					return
				}
				msg := make([]byte, binary.BigEndian.Uint16(size[:]))
				if _, err := io.ReadFull(c, msg); err != nil {
					return
				}
				resp := s.answer(msg, false)
				if resp == nil {
					continue // silent: the client gives up and closes
				}
				c.Write(binary.BigEndian.AppendUint16(nil, uint16(len(resp))))
				c.Write(resp)
			}
		})
	}
}

// answer returns the response to the query msg, or nil to stay silent.
func (s *dnsServer) answer(msg []byte, udp bool) []byte {
	q, err := parseDNSQuery(msg)
	if err != nil {
		return nil
	}
	s.mu.Lock()
	s.queries[dnsQuestion{q.name, q.qtype}]++
	n, ok := s.zone[q.name]
	if !ok {
		n = &dnsName{rcode: rcodeNXDomain}
	}
	s.mu.Unlock()
	if n.silent {
		return nil
	}
	var records [][]byte
	if n.rcode == 0 {
		for _, a := range n.addrs {
			if (q.qtype == dnsTypeA) == a.Is4() && (q.qtype == dnsTypeA || q.qtype == dnsTypeAAAA) {
				records = append(records, a.AsSlice())
			}
		}
	}
	// QR, the query's opcode and RD, AA and RA: an authoritative answer
	// from a server that recurses, as a cluster's DNS gives.
	flags := 0x8000 | q.flags&0x7900 | 0x0400 | 0x0080 | uint16(n.rcode)
	resp := dnsResponse(q, flags, records)
	if udp && len(resp) > q.udpSize {
		resp = dnsResponse(q, flags|0x0200, nil)
	}
	return resp
}

// dnsQuery is what the server reads of a query.
type dnsQuery struct {
	id, flags, qtype uint16
	name             string
	question         []byte // the question section as sent
	udpSize          int    // the largest UDP answer the client takes
}

// parseDNSQuery reads a query with one question and, optionally, an
// EDNS0 record.
func parseDNSQuery(msg []byte) (dnsQuery, error) {
	bad := errors.New("malformed query")
	if len(msg) < 12 || binary.BigEndian.Uint16(msg[4:]) != 1 {
		return dnsQuery{}, bad
	}
	q := dnsQuery{id: binary.BigEndian.Uint16(msg), flags: binary.BigEndian.Uint16(msg[2:]), udpSize: 512}
	var labels []string
	i := 12
	for {
		if i >= len(msg) {
			return dnsQuery{}, bad
		}
		l := int(msg[i])
		i++
		if l == 0 {
			break
		}
		if l > 63 || i+l > len(msg) {
			return dnsQuery{}, bad
		}
		labels = append(labels, strings.ToLower(string(msg[i:i+l])))
		i += l
	}
	if i+4 > len(msg) {
		return dnsQuery{}, bad
	}
	q.name = strings.Join(labels, ".") + "."
	q.qtype = binary.BigEndian.Uint16(msg[i:])
	q.question = msg[12 : i+4]
	i += 4
	// An EDNS0 record in the additional section: the root name (0), type
	// OPT and the UDP size as its class.
	if binary.BigEndian.Uint16(msg[10:]) > 0 && i+5 <= len(msg) && msg[i] == 0 && binary.BigEndian.Uint16(msg[i+1:]) == dnsTypeOPT {
		q.udpSize = max(512, int(binary.BigEndian.Uint16(msg[i+3:])))
	}
	return q, nil
}

// dnsResponse builds the response to q with flags and one answer record
// of q's type per record, each naming the question's name.
func dnsResponse(q dnsQuery, flags uint16, records [][]byte) []byte {
	b := binary.BigEndian.AppendUint16(nil, q.id)
	b = binary.BigEndian.AppendUint16(b, flags)
	b = binary.BigEndian.AppendUint16(b, 1)
	b = binary.BigEndian.AppendUint16(b, uint16(len(records)))
	b = append(b, 0, 0, 0, 0) // no authority, no additional records
	b = append(b, q.question...)
	for _, rdata := range records {
		b = append(b, 0xc0, 12) // the name at offset 12: the question's
		b = binary.BigEndian.AppendUint16(b, q.qtype)
		b = binary.BigEndian.AppendUint16(b, dnsClassIN)
		b = binary.BigEndian.AppendUint32(b, 5) // TTL
		b = binary.BigEndian.AppendUint16(b, uint16(len(rdata)))
		b = append(b, rdata...)
	}
	return b
}
