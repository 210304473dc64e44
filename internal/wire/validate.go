package wire

import (
	"fmt"
	"net/netip"
	"strconv"
)

// MaxNodeIDLen, MaxHostLen and MaxEngineLen bound the identifying fields.
const (
	MaxNodeIDLen = 64
	MaxHostLen   = 253
	// The engine field names the engine and, for pow, its rules
	// (pow.Params.Rules).
	MaxEngineLen = 128
)

// FieldError reports one invalid field and why it is invalid.
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

// ValidatePeerInfo reports whether p can be announced and dialed: a valid
// node id, host and port, and an HTTP port that is empty or valid.
func ValidatePeerInfo(p PeerInfo) error {
	if err := ValidateNodeID(p.ID); err != nil {
		return err
	}
	if err := ValidateHost(p.Host); err != nil {
		return err
	}
	if err := ValidatePort(p.Port); err != nil {
		return err
	}
	if p.HTTPPort != "" {
		if err := validatePort("http_port", p.HTTPPort); err != nil {
			return err
		}
	}
	return nil
}

// ValidateNodeID reports whether id is 1 to 64 characters of [A-Za-z0-9._-].
func ValidateNodeID(id string) error {
	return validateToken("id", id, MaxNodeIDLen)
}

func validateToken(field, s string, maxLen int) error {
	if s == "" || len(s) > maxLen {
		return &FieldError{field, fmt.Sprintf("length %d, want 1..%d", len(s), maxLen)}
	}
	for i := 0; i < len(s); i++ {
		if !isTokenByte(s[i]) {
			return &FieldError{field, fmt.Sprintf("byte %d is %q, want [A-Za-z0-9._-]", i, s[i])}
		}
	}
	return nil
}

func isTokenByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '.' || c == '_' || c == '-'
}

// ValidateHost reports whether h is an IPv4 literal, an IPv6 literal without
// brackets, or a DNS name: 1 to 253 bytes, labels of 1 to 63 letters, digits,
// '-' or '_' that neither start nor end with '-'.
func ValidateHost(h string) error {
	if h == "" || len(h) > MaxHostLen {
		return &FieldError{"host", fmt.Sprintf("length %d, want 1..%d", len(h), MaxHostLen)}
	}
	for i := 0; i < len(h); i++ {
		if c := h[i]; c <= ' ' || c >= 0x7f {
			return &FieldError{"host", fmt.Sprintf("byte %d is %q: spaces, control and non-ASCII characters are not allowed", i, c)}
		}
	}
	if _, err := netip.ParseAddr(h); err == nil {
		return nil
	}
	label := 0
	for i := 0; i <= len(h); i++ {
		if i < len(h) && h[i] != '.' {
			c := h[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return &FieldError{"host", fmt.Sprintf("%q is neither an IP address nor a DNS name (byte %d is %q)", h, i, c)}
			}
			label++
			continue
		}
		if label == 0 || label > 63 {
			return &FieldError{"host", fmt.Sprintf("%q has a DNS label of length %d, want 1..63", h, label)}
		}
		if h[i-label] == '-' || h[i-1] == '-' {
			return &FieldError{"host", fmt.Sprintf("%q has a DNS label that starts or ends with '-'", h)}
		}
		label = 0
	}
	return nil
}

// ValidatePort reports whether p is a decimal port number 1..65535 without
// sign or leading zeros.
func ValidatePort(p string) error {
	return validatePort("port", p)
}

func validatePort(field, p string) error {
	if p == "" || len(p) > 5 || p[0] == '0' {
		return &FieldError{field, fmt.Sprintf("%q is not a port number 1..65535", p)}
	}
	for i := 0; i < len(p); i++ {
		if p[i] < '0' || p[i] > '9' {
			return &FieldError{field, fmt.Sprintf("%q is not a port number 1..65535", p)}
		}
	}
	if n, _ := strconv.Atoi(p); n > 65535 {
		return &FieldError{field, fmt.Sprintf("%q is not a port number 1..65535", p)}
	}
	return nil
}

// validate checks a Hello: a positive version, a valid peer record, a genesis
// hash of 64 lower-case hex digits and an engine name.
func (m *Hello) validate() error {
	if m.Version <= 0 {
		return &FieldError{"version", fmt.Sprintf("%d, want > 0", m.Version)}
	}
	if err := ValidatePeerInfo(m.PeerInfo()); err != nil {
		if fe, ok := err.(*FieldError); ok && fe.Field == "id" {
			fe.Field = "node_id"
		}
		return err
	}
	if len(m.Genesis) != 64 {
		return &FieldError{"genesis", fmt.Sprintf("length %d, want 64 hex digits", len(m.Genesis))}
	}
	for i := 0; i < len(m.Genesis); i++ {
		if c := m.Genesis[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return &FieldError{"genesis", fmt.Sprintf("byte %d is %q, want lower-case hex", i, c)}
		}
	}
	return validateToken("engine", m.Engine, MaxEngineLen)
}

func (m *Reject) validate() error {
	if len(m.Reason) > MaxReasonLen {
		return &FieldError{"reason", fmt.Sprintf("%d bytes, want at most %d", len(m.Reason), MaxReasonLen)}
	}
	return nil
}

func (m *Ping) validate() error { return nil }

func (m *Peers) validate() error {
	if len(m.Peers) > MaxPeers {
		return &FieldError{"peers", fmt.Sprintf("%d entries, want at most %d", len(m.Peers), MaxPeers)}
	}
	for i, p := range m.Peers {
		if err := ValidatePeerInfo(p); err != nil {
			return &FieldError{fmt.Sprintf("peers[%d]", i), err.Error()}
		}
	}
	return nil
}

func (m *Consensus) validate() error { return nil }
