package config

import (
	"net/url"
	"testing"
)

func TestCanonicalURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"http://a.example", "http://a.example:80"},
		{"https://a.example", "https://a.example:443"},
		{"HTTP://A.Example:8080", "http://a.example:8080"},
		{"http://127.0.0.1:08080", "http://127.0.0.1:8080"},
		{"http://127.0.0.1:8080/", "http://127.0.0.1:8080"},
		{"https://a.example:80", "https://a.example:80"},
		{"http://[::1]:8080", "http://[::1]:8080"},
		{"http://[0:0::1]", "http://[::1]:80"},
		{"http://[::FFFF:127.0.0.1]:8080", "http://127.0.0.1:8080"},
		{"http://[fe80::1%25eth0]:8080", "http://[fe80::1%eth0]:8080"},
	}
	for _, tt := range tests {
		u, err := url.Parse(tt.in)
		if err != nil {
			t.Fatalf("url.Parse(%q): %v", tt.in, err)
		}
		if got := CanonicalURL(u); got != tt.want {
			t.Errorf("CanonicalURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
