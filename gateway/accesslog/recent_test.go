package accesslog

import (
	"strconv"
	"testing"
)

func TestRecentKeepsTheNewestFirst(t *testing.T) {
	r := &Recent{Size: 3}
	if got, total := r.List(); len(got) != 0 || total != 0 {
		t.Fatalf("empty ring: %v %d", got, total)
	}
	for i := 1; i <= 5; i++ {
		r.Add(GatewayError{RequestID: strconv.Itoa(i)})
	}
	got, total := r.List()
	var ids string
	for _, e := range got {
		ids += e.RequestID
	}
	if ids != "543" || total != 5 {
		t.Fatalf("got %q (total %d), want 543 of 5", ids, total)
	}
	r2 := &Recent{}
	r2.Add(GatewayError{RequestID: "a"})
	r2.Add(GatewayError{RequestID: "b"})
	if got, _ := r2.List(); len(got) != 2 || got[0].RequestID != "b" {
		t.Fatalf("partly filled ring: %v", got)
	}
}
