package reload

import (
	"crypto/sha256"
	"encoding/hex"
)

// Hash returns the lowercase hex SHA-256 digest of data. [Watcher] uses it to
// recognise content it has already delivered, and callers can use it to name a
// configuration the same way (in logs, metrics or an admin endpoint).
func Hash(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}
