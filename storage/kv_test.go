package storage

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
)

// TestCursorMatchesModel drives the key/value model of the engine under test
// (bbolt, or etcd on an etcd run) with random puts and deletes, committed and
// buffered in the transaction that walks, and checks every cursor move against a
// sorted model: what a write transaction sees of its own writes, and what a
// later read transaction sees, page boundaries of the etcd cursor included.
func TestCursorMatchesModel(t *testing.T) {
	t.Parallel()
	s, err := testOpen(filepath.Join(t.TempDir(), "roomcast.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rng := rand.New(rand.NewPCG(7, 11))
	model := map[string]string{}
	key := func() string { return fmt.Sprintf("k%04d", rng.IntN(3*etcdPageSize)) }
	mutate := func(b bucket, m map[string]string, n int) error {
		for range n {
			k := key()
			if rng.IntN(3) == 0 {
				delete(m, k)
				if err := b.Delete([]byte(k)); err != nil {
					return err
				}
				continue
			}
			v := fmt.Sprint(rng.Int())
			m[k] = v
			if err := b.Put([]byte(k), []byte(v)); err != nil {
				return err
			}
		}
		return nil
	}
	check := func(b bucket, m map[string]string, what string) error {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		c := b.Cursor()
		var fwd, back []string
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if m[string(k)] != string(v) {
				return fmt.Errorf("%s: %s = %q, want %q", what, k, v, m[string(k)])
			}
			fwd = append(fwd, string(k))
		}
		for k, _ := c.Last(); k != nil; k, _ = c.Prev() {
			back = append(back, string(k))
		}
		slices.Reverse(back)
		if !slices.Equal(fwd, keys) || !slices.Equal(back, keys) {
			var missing []string
			for _, k := range keys {
				if !slices.Contains(fwd, k) {
					missing = append(missing, k)
				}
			}
			return fmt.Errorf("%s: forward %d keys, backward %d, want %d (missing forward %v)", what, len(fwd), len(back), len(keys), missing)
		}
		for range 50 {
			seek := key()
			i, _ := slices.BinarySearch(keys, seek)
			k, _ := c.Seek([]byte(seek))
			if (i == len(keys)) != (k == nil) || (k != nil && string(k) != keys[i]) {
				return fmt.Errorf("%s: Seek(%s) = %s, want index %d of %d", what, seek, k, i, len(keys))
			}
			if k != nil {
				if p, _ := c.Prev(); (i == 0) != (p == nil) || (p != nil && string(p) != keys[i-1]) {
					return fmt.Errorf("%s: Prev after Seek(%s) = %s", what, seek, p)
				}
			}
		}
		return nil
	}
	for round := range 6 {
		err := s.Update(func(tx *Tx) error {
			b, err := tx.tx.CreateBucketIfNotExists([]byte("cursor_test"))
			if err != nil {
				return err
			}
			local := maps.Clone(model)
			if err := mutate(b, local, 150); err != nil {
				return err
			}
			if err := check(b, local, fmt.Sprintf("round %d, own writes", round)); err != nil {
				return err
			}
			model = local
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		err = s.View(func(tx *Tx) error {
			return check(tx.tx.Bucket([]byte("cursor_test")), model, fmt.Sprintf("round %d, committed", round))
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}
