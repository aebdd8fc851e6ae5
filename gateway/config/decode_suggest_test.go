package config

import "testing"

// TestEditDistance checks the distance on edits of each kind.
func TestEditDistance(t *testing.T) {
	cases := []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"abc", "", 3},
		{"", "abc", 3},
		{"interval", "interval", 0},
		{"intreval", "interval", 1},
		{"intervl", "interval", 1},
		{"intervall", "interval", 1},
		{"intexval", "interval", 1},
		{"kitten", "sitting", 3},
		{"héalth", "health", 1},
	}
	for _, tc := range cases {
		if got := editDistance(tc.a, tc.b); got != tc.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}

// TestClosest checks which misspellings get a suggestion.
func TestClosest(t *testing.T) {
	keys := []string{"listen", "port", "admin", "healthCheck", "healthCheckInterval", "pools", "routes", "servers"}
	cases := map[string]string{
		"lisen":                 "listen",
		"HEALTHCHECK":           "healthCheck",
		"health-check":          "healthCheck",
		"health_check_interval": "healthCheckInterval",
		"healthChek":            "healthCheck",
		"pool":                  "pools",
		"prot":                  "port",
		"server":                "servers",
		"x":                     "",
		"frobnicate":            "",
		"adm":                   "",
		"":                      "",
	}
	for word, want := range cases {
		if got := closestName(word, keys); got != want {
			t.Errorf("closestName(%q) = %q, want %q", word, got, want)
		}
	}
}
