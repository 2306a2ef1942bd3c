package storage

// App returns the app with the given ID, or ErrNotFound.
func (t *Tx) App(id uint64) (App, error) {
	return getCached(t, appKind, id)
}

// AppByAPIKey returns the app whose APIKey is key, or ErrNotFound. The caller
// still verifies the API secret against APISecretHash.
func (t *Tx) AppByAPIKey(key string) (App, error) {
	id, err := lookupIndex(t.bucket(bucketAppsByKey), []byte(key), "app by api key")
	if err != nil {
		return App{}, err
	}
	return t.App(id)
}

// PutApp inserts (a.ID == 0: the ID is assigned from the bucket sequence) or
// replaces an app and maintains the API-key index. A key held by another app
// yields ErrConflict. An empty APIKey is not indexed.
func (t *Tx) PutApp(a *App) error {
	b := t.appendBucket(bucketApps)
	defer func() { invalidateCached(t, appKind, a.ID) }() // after the ID is assigned
	return t.putRecord("app", b, &a.ID, a, func() error {
		old, _, err := previous[App](b, a.ID, "app")
		if err != nil {
			return err
		}
		idx := t.bucket(bucketAppsByKey)
		oldKey, newKey := optKey(old.APIKey), optKey(a.APIKey)
		if newKey != nil {
			if err := claim(idx, newKey, a.ID, "app api key"); err != nil {
				return err
			}
		}
		return release(idx, oldKey, newKey)
	})
}

// AppCount returns the number of apps.
func (t *Tx) AppCount() int { return count(t.bucket(bucketApps), nil) }

// ForEachApp calls fn for every app in ID order until fn returns an error, which
// ForEachApp returns. fn must not put apps (bbolt cursors do not survive writes
// to the bucket they walk); collect and put after the loop.
func (t *Tx) ForEachApp(fn func(App) error) error {
	return t.bucket(bucketApps).ForEach(func(_, v []byte) error {
		var a App
		if err := decodeJSON(v, &a, "app"); err != nil {
			return err
		}
		return fn(a)
	})
}

// optKey returns s as an index key, or nil for the empty string (not indexed).
func optKey(s string) []byte {
	if s == "" {
		return nil
	}
	return []byte(s)
}
