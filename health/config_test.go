package health

import (
	"reflect"
	"testing"
	"time"
)

func TestCheckConfigWithDefaults(t *testing.T) {
	got := CheckConfig{}.WithDefaults()
	want := CheckConfig{
		Method: "HEAD", Path: "/", Interval: 2 * time.Second, Timeout: time.Second,
		HealthyThreshold: 2, UnhealthyThreshold: 3, Expect: []StatusRange{{200, 399}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("zero config with defaults = %+v, want %+v", got, want)
	}
	set := CheckConfig{
		Method: "GET", Path: "/healthz", Interval: time.Minute, Timeout: 3 * time.Second,
		HealthyThreshold: 5, UnhealthyThreshold: 1, Expect: []StatusRange{{204, 204}},
	}
	if got := set.WithDefaults(); !reflect.DeepEqual(got, set) {
		t.Fatalf("set config with defaults = %+v, want it unchanged", got)
	}
}

func TestCheckConfigAccepts(t *testing.T) {
	tests := []struct {
		expect []StatusRange
		code   int
		want   bool
	}{
		{nil, 199, false},
		{nil, 200, true},
		{nil, 399, true},
		{nil, 400, false},
		{[]StatusRange{{200, 204}, {418, 418}}, 204, true},
		{[]StatusRange{{200, 204}, {418, 418}}, 205, false},
		{[]StatusRange{{200, 204}, {418, 418}}, 418, true},
	}
	for _, tt := range tests {
		if got := (CheckConfig{Expect: tt.expect}).Accepts(tt.code); got != tt.want {
			t.Errorf("Expect %v: Accepts(%d) = %v, want %v", tt.expect, tt.code, got, tt.want)
		}
	}
}

func TestStatusRangeString(t *testing.T) {
	if got := (StatusRange{200, 399}).String(); got != "200-399" {
		t.Errorf("String() = %q, want %q", got, "200-399")
	}
	if got := (StatusRange{404, 404}).String(); got != "404" {
		t.Errorf("String() = %q, want %q", got, "404")
	}
}
