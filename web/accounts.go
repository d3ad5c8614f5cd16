package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"sohoa/storage"
)

// Role is what a staff account may do.
type Role string

// Roles.
const (
	// RoleCounter: counter staff of a one-stop office: upload scans and
	// follow their own office's batches.
	RoleCounter Role = "counter"
	// RoleReviewer: check the documents the pipeline was not sure of.
	RoleReviewer Role = "reviewer"
	// RoleSupervisor: results and their validity, reports, staff accounts.
	RoleSupervisor Role = "supervisor"
)

// Roles lists every role, in the order they are shown.
func Roles() []Role { return []Role{RoleCounter, RoleReviewer, RoleSupervisor} }

// Valid reports whether r is one of Roles.
func (r Role) Valid() bool { return slices.Contains(Roles(), r) }

// Label is the role's name as staff read it.
func (r Role) Label() string {
	switch r {
	case RoleCounter:
		return "Cán bộ tiếp nhận"
	case RoleReviewer:
		return "Cán bộ kiểm tra"
	case RoleSupervisor:
		return "Cán bộ quản lý"
	}
	return string(r)
}

// Account events: each change to an account is one create-once event
// under storage.StaffEventKey, sealed (it names a person).
const (
	EventCreated       = "created"
	EventPasswordReset = "password_reset"
	EventDisabled      = "disabled"
	EventEnabled       = "enabled"
	EventRoleChanged   = "role_changed"
)

// Errors of Accounts.
var (
	ErrNoAccount     = errors.New("no such staff account")
	ErrAccountExists = errors.New("staff account already exists")
	ErrBadPassword   = errors.New("wrong password")
	ErrDisabled      = errors.New("staff account is disabled")
	ErrBadUserName   = errors.New("a user name is 2 to 64 characters: lowercase ASCII letters, digits and . _ @ - (starting with a letter or digit)")
	ErrBadOffice     = errors.New("an office is a 13-character agency code such as 000.00.31.H29")
	ErrBadRole       = errors.New("a role is counter, reviewer or supervisor")
)

// Account is a staff account as its events leave it.
type Account struct {
	ID       string // storage.StaffAccount of User: names it in keys, sessions and audit records
	User     string // the user name (personal data: sealed at rest, never logged)
	Name     string // full name shown to staff, optional
	Role     Role
	Office   string // agency code of the account's office
	Disabled bool
	Created  time.Time
	Changed  time.Time
	// Version counts the account's events. Every change makes a new
	// version, and a session of an older version ends.
	Version int

	password string // PHC argon2id string
}

// LogValue keeps the user name, full name and password hash out of logs.
func (a Account) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", a.ID), slog.String("role", string(a.Role)), slog.String("office", a.Office))
}

// String is redacted like LogValue.
func (a Account) String() string {
	return fmt.Sprintf("staff account %s (%s, %s)", a.ID, a.Role, a.Office)
}

// accountEvent is the sealed body of one event.
type accountEvent struct {
	Kind     string    `json:"kind"`
	At       time.Time `json:"at"`
	By       string    `json:"by"` // "cli", "dev", or the staff account that made the change
	User     string    `json:"user,omitempty"`
	Name     string    `json:"name,omitempty"`
	Role     Role      `json:"role,omitempty"`
	Office   string    `json:"office,omitempty"`
	Password string    `json:"password,omitempty"`
}

// SessionEnder ends every session of an account; Store implements it.
type SessionEnder interface {
	EndSessions(ctx context.Context, account string) error
}

// AccountsOptions configure Accounts. Repo and Key are required.
type AccountsOptions struct {
	Repo *storage.Repository
	// Key is K_staff: it keys account IDs (storage.StaffAccount).
	Key []byte
	// Sessions, when set, has every change to an account end the
	// account's sessions in every serve process at once. Without it (or
	// when it fails) they end at their next account check
	// (Options.Recheck of the web app).
	Sessions SessionEnder
	Argon2   Argon2Params // zero: DefaultArgon2
	// MaxHashing bounds the password hashes computed at once (default 4).
	MaxHashing int
	Now        func() time.Time
}

// Accounts stores staff accounts in the repository as append-only,
// create-once, sealed events: staff/{account}/{seq}.json, where account is
// a keyed hash of the user name.
type Accounts struct {
	repo     *storage.Repository
	key      []byte
	sessions SessionEnder
	params   Argon2Params
	now      func() time.Time
	hashing  chan struct{}
}

// NewAccounts returns the staff accounts of opts.Repo.
func NewAccounts(opts AccountsOptions) (*Accounts, error) {
	if opts.Repo == nil {
		return nil, errors.New("web: AccountsOptions.Repo is nil")
	}
	if len(opts.Key) < 32 {
		return nil, errors.New("web: AccountsOptions.Key (K_staff) needs at least 32 bytes")
	}
	if opts.Argon2 == (Argon2Params{}) {
		opts.Argon2 = DefaultArgon2()
	}
	if opts.MaxHashing <= 0 {
		opts.MaxHashing = 4
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Accounts{repo: opts.Repo, key: opts.Key, sessions: opts.Sessions, params: opts.Argon2,
		now: opts.Now, hashing: make(chan struct{}, opts.MaxHashing)}, nil
}

var userNameRe = regexp.MustCompile(`^[a-z0-9][a-z0-9._@-]{1,63}$`)

// NormalizeUserName trims and lower-cases a user name and checks its form.
func NormalizeUserName(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if !userNameRe.MatchString(s) {
		return "", ErrBadUserName
	}
	return s, nil
}

// ID is the account ID of what was typed as a user name, whether or not
// such an account exists or the name is well formed: failed sign-ins are
// counted and audited under it.
func (a *Accounts) ID(userName string) string {
	n, err := NormalizeUserName(userName)
	if err != nil {
		n = strings.ToLower(strings.TrimSpace(userName))
		if len(n) > 256 {
			n = n[:256]
		}
	}
	return storage.StaffAccount(a.key, n)
}

// Create makes an account. by names who made it ("cli", or a staff
// account ID).
func (a *Accounts) Create(ctx context.Context, user, name string, role Role, office, password, by string) (Account, error) {
	user, err := NormalizeUserName(user)
	if err != nil {
		return Account{}, err
	}
	if !role.Valid() {
		return Account{}, ErrBadRole
	}
	if !storage.ValidAgencyCode(office) {
		return Account{}, ErrBadOffice
	}
	if err := CheckPasswordPolicy(password); err != nil {
		return Account{}, err
	}
	hash, err := a.hash(ctx, password)
	if err != nil {
		return Account{}, err
	}
	id := storage.StaffAccount(a.key, user)
	ev := accountEvent{Kind: EventCreated, At: a.now().UTC(), By: by, User: user, Name: strings.TrimSpace(name),
		Role: role, Office: office, Password: hash}
	err = a.repo.PutSealedJSON(ctx, storage.StaffEventKey(id, 0), ev)
	if errors.Is(err, storage.ErrExists) {
		return Account{}, ErrAccountExists
	}
	if err != nil {
		return Account{}, fmt.Errorf("create staff account: %w", err)
	}
	return fold(id, []accountEvent{ev})
}

// Get returns the account of a user name.
func (a *Accounts) Get(ctx context.Context, user string) (Account, error) {
	user, err := NormalizeUserName(user)
	if err != nil {
		return Account{}, ErrNoAccount
	}
	return a.ByID(ctx, storage.StaffAccount(a.key, user))
}

// ByID returns the account with ID id.
func (a *Accounts) ByID(ctx context.Context, id string) (Account, error) {
	evs, err := a.events(ctx, id)
	if err != nil {
		return Account{}, err
	}
	return fold(id, evs)
}

// List returns every account, by user name.
func (a *Accounts) List(ctx context.Context) ([]Account, error) {
	var ids []string
	err := a.repo.Bucket().List(ctx, storage.StaffPrefix(), func(o storage.ObjectInfo) error {
		id, _, ok := strings.Cut(strings.TrimPrefix(o.Key, storage.StaffPrefix()), "/")
		if ok && storage.ValidStaffAccount(id) && (len(ids) == 0 || ids[len(ids)-1] != id) {
			ids = append(ids, id)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list staff accounts: %w", err)
	}
	out := make([]Account, 0, len(ids))
	for _, id := range ids {
		acct, err := a.ByID(ctx, id)
		if err != nil {
			return nil, err
		}
		out = append(out, acct)
	}
	slices.SortFunc(out, func(x, y Account) int { return strings.Compare(x.User, y.User) })
	return out, nil
}

// Verify checks a sign-in. It returns ErrNoAccount (also for a malformed
// user name), ErrBadPassword, or ErrDisabled (only when the password is
// right). It spends the same hashing work whether or not the account
// exists, so timing does not tell which.
func (a *Accounts) Verify(ctx context.Context, user, password string) (Account, error) {
	if len(password) > MaxPasswordBytes {
		password = password[:MaxPasswordBytes] // cannot match: stored passwords are shorter
	}
	acct, err := a.Get(ctx, user)
	if errors.Is(err, ErrNoAccount) {
		if _, derr := a.check(ctx, a.dummyHash(), password); derr != nil {
			return Account{}, derr
		}
		return Account{}, ErrNoAccount
	}
	if err != nil {
		return Account{}, err
	}
	ok, err := a.check(ctx, acct.password, password)
	switch {
	case err != nil:
		return Account{}, err
	case !ok:
		return Account{}, ErrBadPassword
	case acct.Disabled:
		return acct, ErrDisabled
	}
	return acct, nil
}

// ResetPassword sets a new password.
func (a *Accounts) ResetPassword(ctx context.Context, user, password, by string) (Account, error) {
	if err := CheckPasswordPolicy(password); err != nil {
		return Account{}, err
	}
	hash, err := a.hash(ctx, password)
	if err != nil {
		return Account{}, err
	}
	return a.change(ctx, user, func(Account) (accountEvent, bool) {
		return accountEvent{Kind: EventPasswordReset, By: by, Password: hash}, true
	})
}

// Disable stops an account signing in and ends its sessions. Disabling a
// disabled account writes nothing (and ends its sessions again).
func (a *Accounts) Disable(ctx context.Context, user, by string) (Account, error) {
	return a.change(ctx, user, func(cur Account) (accountEvent, bool) {
		return accountEvent{Kind: EventDisabled, By: by}, !cur.Disabled
	})
}

// Enable lets a disabled account sign in again.
func (a *Accounts) Enable(ctx context.Context, user, by string) (Account, error) {
	return a.change(ctx, user, func(cur Account) (accountEvent, bool) {
		return accountEvent{Kind: EventEnabled, By: by}, cur.Disabled
	})
}

// SetRole changes an account's role and office ("" keeps the office).
func (a *Accounts) SetRole(ctx context.Context, user string, role Role, office, by string) (Account, error) {
	if !role.Valid() {
		return Account{}, ErrBadRole
	}
	if office != "" && !storage.ValidAgencyCode(office) {
		return Account{}, ErrBadOffice
	}
	return a.change(ctx, user, func(cur Account) (accountEvent, bool) {
		o := office
		if o == "" {
			o = cur.Office
		}
		return accountEvent{Kind: EventRoleChanged, By: by, Role: role, Office: o}, role != cur.Role || o != cur.Office
	})
}

// change appends the event next makes of the account's current state
// (when next says there is a change), create-once at the next sequence
// number; a writer that raced it to that number makes it read again. Then
// it ends the account's sessions. A change that changes nothing writes
// nothing and leaves sessions alone (those of a disabled account are ended
// again).
func (a *Accounts) change(ctx context.Context, user string, next func(Account) (accountEvent, bool)) (Account, error) {
	user, err := NormalizeUserName(user)
	if err != nil {
		return Account{}, ErrNoAccount
	}
	id := storage.StaffAccount(a.key, user)
	for range 5 {
		evs, err := a.events(ctx, id)
		if err != nil {
			return Account{}, err
		}
		cur, err := fold(id, evs)
		if err != nil {
			return Account{}, err
		}
		ev, changed := next(cur)
		if !changed {
			if cur.Disabled {
				// Disabling again ends sessions again (in case the first
				// time could not).
				return cur, a.endSessions(ctx, id)
			}
			return cur, nil
		}
		ev.At = a.now().UTC()
		err = a.repo.PutSealedJSON(ctx, storage.StaffEventKey(id, len(evs)), ev)
		if errors.Is(err, storage.ErrExists) {
			continue
		}
		if err != nil {
			return Account{}, fmt.Errorf("change staff account: %w", err)
		}
		acct, err := fold(id, append(evs, ev))
		if err != nil {
			return Account{}, err
		}
		return acct, a.endSessions(ctx, id)
	}
	return Account{}, fmt.Errorf("change staff account %s: too many concurrent changes: %w", id, storage.ErrExists)
}

func (a *Accounts) endSessions(ctx context.Context, id string) error {
	if a.sessions == nil {
		return nil
	}
	if err := a.sessions.EndSessions(ctx, id); err != nil {
		return fmt.Errorf("account changed, but its sessions could not be ended now (they end at their next account check): %w", err)
	}
	return nil
}

// events reads an account's events in order.
func (a *Accounts) events(ctx context.Context, id string) ([]accountEvent, error) {
	if !storage.ValidStaffAccount(id) {
		return nil, ErrNoAccount
	}
	prefix := storage.StaffAccountPrefix(id)
	var keys []string
	err := a.repo.Bucket().List(ctx, prefix, func(o storage.ObjectInfo) error {
		keys = append(keys, o.Key)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read staff account: %w", err)
	}
	if len(keys) == 0 {
		return nil, ErrNoAccount
	}
	slices.Sort(keys) // zero-padded: lexical is numeric
	evs := make([]accountEvent, 0, len(keys))
	for i, k := range keys {
		if seq, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(k, prefix), ".json")); err != nil || seq != i || k != storage.StaffEventKey(id, i) {
			return nil, fmt.Errorf("staff account %s: event %d missing or misnamed: %w", id, i, storage.ErrCorrupt)
		}
		var ev accountEvent
		if err := a.repo.GetSealedJSON(ctx, k, &ev); err != nil {
			return nil, fmt.Errorf("read staff account: %w", err)
		}
		evs = append(evs, ev)
	}
	return evs, nil
}

// fold replays an account's events.
func fold(id string, evs []accountEvent) (Account, error) {
	if len(evs) == 0 || evs[0].Kind != EventCreated {
		return Account{}, fmt.Errorf("staff account %s: does not start with its creation: %w", id, storage.ErrCorrupt)
	}
	var acct Account
	for i, ev := range evs {
		switch ev.Kind {
		case EventCreated:
			if i != 0 {
				return Account{}, fmt.Errorf("staff account %s: created twice: %w", id, storage.ErrCorrupt)
			}
			acct = Account{ID: id, User: ev.User, Name: ev.Name, Role: ev.Role, Office: ev.Office, Created: ev.At, password: ev.Password}
		case EventPasswordReset:
			acct.password = ev.Password
		case EventDisabled:
			acct.Disabled = true
		case EventEnabled:
			acct.Disabled = false
		case EventRoleChanged:
			acct.Role, acct.Office = ev.Role, ev.Office
		default:
			return Account{}, fmt.Errorf("staff account %s: event %d of unknown kind: %w", id, i, storage.ErrCorrupt)
		}
		acct.Changed = ev.At
	}
	acct.Version = len(evs)
	if !acct.Role.Valid() || acct.password == "" {
		return Account{}, fmt.Errorf("staff account %s: no role or password: %w", id, storage.ErrCorrupt)
	}
	return acct, nil
}

// hash hashes a password, waiting for a hashing slot.
func (a *Accounts) hash(ctx context.Context, password string) (string, error) {
	if err := a.acquire(ctx); err != nil {
		return "", err
	}
	defer func() { <-a.hashing }()
	return hashPassword(a.params, password)
}

func (a *Accounts) check(ctx context.Context, encoded, password string) (bool, error) {
	if err := a.acquire(ctx); err != nil {
		return false, err
	}
	defer func() { <-a.hashing }()
	return checkPassword(encoded, password)
}

func (a *Accounts) acquire(ctx context.Context) error {
	select {
	case a.hashing <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("password hashing: %w", ctx.Err())
	}
}

// dummyHash is a well-formed hash under the current parameters that no
// password matches: checking against it costs what checking a real one
// does.
func (a *Accounts) dummyHash() string {
	return fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=%d$c29ob2Etbm8tYWNjb3VudA$%s", a.params.MemoryKiB, a.params.Time, a.params.Threads,
		b64.EncodeToString(make([]byte, a.params.KeyLen)))
}
