package projections

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"
)

// builtInPolicyVersion is the built-in policy's version since kam has had
// one: every read model built with the defaults is stored under it, so a
// change of how a policy is read must not move it.
const builtInPolicyVersion = "ab1763b38ca2ea7355fad023f1cc7251b07f07fb3b99259747dd0b39f638dd7e"

func TestDefaultPolicyVersionUnchanged(t *testing.T) {
	def := DefaultPolicy()
	if got := def.Version(); got != builtInPolicyVersion {
		t.Errorf("built-in policy: got version %s, want %s", got, builtInPolicyVersion)
	}
	sum := sha256.Sum256(def.Canonical())
	if got := hex.EncodeToString(sum[:]); got != def.Version() {
		t.Errorf("version %s is not the SHA-256 of the canonical JSON (%s)", def.Version(), got)
	}
}
