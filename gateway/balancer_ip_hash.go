package gateway

import "net/netip"

// rendezvous is ip_hash by rendezvous (highest random weight) hashing: each
// backend scores every client by a hash of both, and the healthy backend
// with the highest score wins. Adding or removing one of N backends moves
// only the clients that backend wins or won, about 1/N; an unhealthy
// backend's clients spread over the others and return when it recovers.
// The hash is fixed, not seeded per process, so every replica of the
// gateway sends a client to the same backend.
type rendezvous struct{}

var _ selector = rendezvous{}

func newRendezvous() rendezvous { return rendezvous{} }

func (rendezvous) pick(p *pool, client uint64, tried uint64) int {
	best, bestScore := -1, uint64(0)
	for i, b := range p.backends {
		if !p.usable(i, tried) {
			continue
		}
		if s := mix64(client ^ b.hash); best < 0 || s > bestScore {
			best, bestScore = i, s
		}
	}
	return best
}

// clientHash hashes a client address for ip_hash (FNV-1a over its 16-byte
// form, so IPv4 and IPv4-mapped IPv6 agree).
func clientHash(a netip.Addr) uint64 {
	b := a.As16()
	return fnv64(b[:])
}

// fnv64 is FNV-1a, 64 bits.
func fnv64(b []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range b {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return h
}

// mix64 is the splitmix64 finaliser: it spreads every input bit over the
// output, so nearby clients get unrelated scores.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
