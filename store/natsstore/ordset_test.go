package natsstore

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestOrdset checks the treap against a sorted slice under random inserts
// and deletes, walking both ways from random keys.
func TestOrdset(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	s := newOrdset()
	var model []ikey
	key := func() ikey {
		return ikey{at: rnd.Int64N(50), seq: uint64(rnd.IntN(3)), s1: string(rune('a' + rnd.IntN(4)))}
	}
	find := func(k ikey) int {
		i, _ := slices.BinarySearchFunc(model, k, ikey.cmp)
		return i
	}
	for step := range 5000 {
		k := key()
		i := find(k)
		present := i < len(model) && model[i] == k
		if rnd.IntN(3) == 0 {
			if got := s.Delete(k); got != present {
				t.Fatalf("step %d: Delete(%v) = %v, want %v", step, k, got, present)
			}
			if present {
				model = slices.Delete(model, i, i+1)
			}
		} else {
			if got := s.Insert(k); got == present {
				t.Fatalf("step %d: Insert(%v) = %v, want %v", step, k, got, !present)
			}
			if !present {
				model = slices.Insert(model, i, k)
			}
		}
		if s.Len() != len(model) {
			t.Fatalf("step %d: Len = %d, want %d", step, s.Len(), len(model))
		}
		if step%50 != 0 {
			continue
		}
		from := key()
		var up, down []ikey
		s.Ascend(&from, func(k ikey) bool { up = append(up, k); return true })
		s.Descend(&from, func(k ikey) bool { down = append(down, k); return true })
		j := find(from)
		wantDown := slices.Clone(model[:j])
		slices.Reverse(wantDown)
		if !slices.Equal(up, model[j:]) || !slices.Equal(down, wantDown) {
			t.Fatalf("step %d: walks from %v: up %v down %v; model %v", step, from, up, down, model)
		}
		if m, ok := s.Min(); ok != (len(model) > 0) || ok && m != model[0] {
			t.Fatalf("step %d: Min = %v, %v", step, m, ok)
		}
	}
}
