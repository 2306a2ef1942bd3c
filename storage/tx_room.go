package storage

import (
	"errors"
)

// Room returns the room with the given ID, or ErrNotFound. Soft-deleted rooms
// (State "DELETED") are returned too; callers filter.
func (t *Tx) Room(id uint64) (Room, error) {
	return getCached(t, roomKind, id)
}

// RoomByUUID returns the room with the given UUID, or ErrNotFound.
func (t *Tx) RoomByUUID(uuid string) (Room, error) {
	id, err := lookupIndex(t.bucket(bucketRoomsByUUID), []byte(uuid), "room by uuid")
	if err != nil {
		return Room{}, err
	}
	return t.Room(id)
}

// PutRoom inserts (r.ID == 0: ID from the bucket sequence, hence creation order)
// or replaces a room. It maintains the unique UUID index (ErrConflict when another
// room holds it) and the per-app and per-member list indexes. UUID must not be
// empty. Soft delete is a Put with State "DELETED"; index entries are kept.
func (t *Tx) PutRoom(r *Room) error {
	if r.UUID == "" {
		return errors.New("put room: empty uuid")
	}
	b := t.appendBucket(bucketRooms)
	defer func() { invalidateCached(t, roomKind, r.ID) }() // after the ID is assigned
	return t.putRecord("room", b, &r.ID, r, func() error {
		old, found, err := previous[Room](b, r.ID, "room")
		if err != nil {
			return err
		}
		if err := t.indexRoomUUID(old.UUID, r); err != nil {
			return err
		}
		if found {
			if err := t.unlistRoom(old, r); err != nil {
				return err
			}
		}
		if err := t.relist(old, found, r); err != nil {
			return err
		}
		return t.listRoom(r)
	})
}

// indexRoomUUID claims r.UUID and releases oldUUID ("" for an insert).
func (t *Tx) indexRoomUUID(oldUUID string, r *Room) error {
	idx := t.bucket(bucketRoomsByUUID)
	if err := claim(idx, []byte(r.UUID), r.ID, "room uuid"); err != nil {
		return err
	}
	return release(idx, optKey(oldUUID), []byte(r.UUID))
}

// listRoom adds r to the app and member list indexes (idempotent).
func (t *Tx) listRoom(r *Room) error {
	if err := t.appendBucket(bucketRoomsByApp).Put(pair(r.AppID, r.ID), []byte{}); err != nil {
		return err
	}
	if r.MemberID == 0 {
		return nil
	}
	return t.appendBucket(bucketRoomsByMember).Put(triple(r.AppID, r.MemberID, r.ID), []byte{})
}

// unlistRoom removes old's list entries that r no longer matches (owner change).
func (t *Tx) unlistRoom(old Room, r *Room) error {
	if old.AppID != r.AppID {
		if err := t.bucket(bucketRoomsByApp).Delete(pair(old.AppID, old.ID)); err != nil {
			return err
		}
	}
	if old.MemberID == 0 || (old.AppID == r.AppID && old.MemberID == r.MemberID) {
		return nil
	}
	return t.bucket(bucketRoomsByMember).Delete(triple(old.AppID, old.MemberID, old.ID))
}

// ForEachRoomOfApp calls fn for each room of the app in creation order (desc:
// newest first), deleted rooms included, until fn returns more == false or an
// error. fn must not put rooms during the walk.
func (t *Tx) ForEachRoomOfApp(appID uint64, desc bool, fn func(Room) (more bool, err error)) error {
	return t.forEachListedRoom(bucketRoomsByApp, u64(appID), desc, fn)
}

// forEachListedRoom walks a list index whose keys are prefix|roomID.
func (t *Tx) forEachListedRoom(index []byte, prefix []byte, desc bool, fn func(Room) (bool, error)) error {
	rooms := t.bucket(bucketRooms)
	return scanPrefix(t.bucket(index), prefix, desc, func(k []byte) (bool, error) {
		r, err := roomAt(rooms, k[len(k)-8:])
		if err != nil {
			return false, err
		}
		return fn(r)
	})
}

// roomAt decodes the room stored under key.
func roomAt(rooms bucket, key []byte) (Room, error) {
	var r Room
	err := getJSON(rooms, btoi(key), &r, "room")
	return r, err
}
