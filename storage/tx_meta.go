package storage

import "fmt"

// GetMeta returns a copy of the value stored under key in the meta bucket, or nil.
// Reserved keys (schemaVersion, installSecret) are readable.
func (t *Tx) GetMeta(key string) []byte {
	v := t.bucket(bucketMeta).Get([]byte(key))
	if v == nil {
		return nil
	}
	return append([]byte{}, v...)
}

// PutMeta stores v under key in the meta bucket. Reserved keys are refused. Use a
// component prefix for keys, e.g. "webhooks.ackedSeq.<appID>".
func (t *Tx) PutMeta(key string, v []byte) error {
	if err := t.writableMeta(key); err != nil {
		return err
	}
	if err := t.bucket(bucketMeta).Put([]byte(key), v); err != nil {
		return fmt.Errorf("put meta %q: %w", key, err)
	}
	return nil
}

// writableMeta checks that key may be written in this transaction.
func (t *Tx) writableMeta(key string) error {
	if err := t.writable("put meta"); err != nil {
		return err
	}
	if key == "" || key == metaSchemaVersion || key == metaInstallSecret {
		return fmt.Errorf("put meta: key %q is empty or reserved", key)
	}
	return nil
}
