package webhook

import (
	"strings"
	"testing"
	"time"
)

// The Standard Webhooks specification's example: secret, id, timestamp and
// body give this signature, so the specification's verifiers accept ours.
func TestSignMatchesTheSpecification(t *testing.T) {
	key, err := ParseSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		t.Fatal(err)
	}
	ts := time.Unix(1614265330, 0)
	body := []byte(`{"test": 2432232314}`)
	const want = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
	if got := Sign(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", ts, body); got != want {
		t.Errorf("Sign = %s, want %s", got, want)
	}
	if err := Verify(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", "v1,other "+want, body, ts.Add(time.Minute), 5*time.Minute); err != nil {
		t.Errorf("Verify: %v", err)
	}
	for _, tc := range []struct{ id, ts, sig, body string }{
		{"msg_other", "1614265330", want, `{"test": 2432232314}`},
		{"msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265331", want, `{"test": 2432232314}`},
		{"msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", want, `{"test": 2432232315}`},
		{"msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", "v2," + strings.TrimPrefix(want, "v1,"), `{"test": 2432232314}`},
	} {
		if Verify(key, tc.id, tc.ts, tc.sig, []byte(tc.body), ts, 5*time.Minute) == nil {
			t.Errorf("Verify accepted %+v", tc)
		}
	}
	if Verify(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", want, body, ts.Add(time.Hour), 5*time.Minute) == nil {
		t.Error("Verify accepted an hour-old message")
	}
}

func TestParseSecretRefuses(t *testing.T) {
	for _, s := range []string{"", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_not base64!", "whsec_c2hvcnQ=", "whsec_" + strings.Repeat("QUFB", 30)} {
		if _, err := ParseSecret(s); err == nil {
			t.Errorf("ParseSecret(%q) succeeded", s)
		}
	}
}
