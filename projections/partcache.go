package projections

import "sync"

// partCache keeps, per account, the rows of an account read that only the
// account's own events change: its service items and its contacts. A day's
// review moves nearly every account's figures and decisions, which are read
// from the accounts row each time (one key lookup); the items and contacts
// took two thirds of an account read (two queries and their rows).
//
// The projector, after each commit and before it publishes the new applied
// sequence, notes the accounts the batch touched (invalidate). A reader that
// misses reads the rows and keeps them only if no commit touched the
// account since it looked (the sequence it saw before reading): so a read
// that raced a commit is used once and not kept.
type partCache struct {
	mu      sync.Mutex
	seq     uint64            // the last commit's applied sequence
	changed map[string]uint64 // account → sequence of the last commit that touched it
	entries map[string]*cachedParts
}

// cachedParts are one account's items and contacts as stored.
type cachedParts struct {
	items    []itemRow
	contacts []contactRow
}

// maxCachedAccounts bounds the cache: past it, it starts afresh.
const maxCachedAccounts = 100000

// get returns the account's parts, or nil and the sequence to pass to put.
func (c *partCache) get(account string) (*cachedParts, uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.entries[account], c.seq
}

// put keeps parts read after get returned seq, unless a commit touched the
// account since.
func (c *partCache) put(account string, seq uint64, parts *cachedParts) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.changed[account] > seq {
		return
	}
	if c.entries == nil || len(c.entries) >= maxCachedAccounts {
		c.entries = map[string]*cachedParts{}
	}
	c.entries[account] = parts
}

// invalidate notes that the commit up to seq touched accounts.
func (c *partCache) invalidate(seq uint64, accounts []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.changed == nil {
		c.changed = map[string]uint64{}
	}
	for _, a := range accounts {
		c.changed[a] = seq
		delete(c.entries, a)
	}
	c.seq = seq
}
