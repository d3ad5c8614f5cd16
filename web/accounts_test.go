package web

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"sohoa/storage"
)

// endRecorder records EndSessions calls.
type endRecorder struct {
	mu    sync.Mutex
	ended []string
	fail  error
}

func (e *endRecorder) EndSessions(_ context.Context, account string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.ended = append(e.ended, account)
	return e.fail
}

func TestAccountLifecycle(t *testing.T) {
	ctx := context.Background()
	repo, bucket := newRepo(t)
	clk := newClock()
	ends := &endRecorder{}
	accts := newAccounts(t, repo, ends, clk.Now)
	const pw = "mật-khẩu-ban-đầu"

	acct, err := accts.Create(ctx, "  Nguyen.Van.An ", "Nguyễn Văn An", RoleCounter, "000.00.31.H29", pw, "cli")
	if err != nil {
		t.Fatal(err)
	}
	if acct.User != "nguyen.van.an" || acct.Version != 1 || acct.ID != accts.ID("NGUYEN.VAN.AN") || acct.Disabled {
		t.Fatalf("created %+v", acct)
	}
	if _, err := accts.Create(ctx, "nguyen.van.an", "", RoleReviewer, "000.00.31.H29", pw, "cli"); !errors.Is(err, ErrAccountExists) {
		t.Errorf("second create: %v, want ErrAccountExists", err)
	}
	if _, err := accts.Verify(ctx, "nguyen.van.an", pw); err != nil {
		t.Errorf("verify right password: %v", err)
	}
	if _, err := accts.Verify(ctx, "nguyen.van.an", pw+"x"); !errors.Is(err, ErrBadPassword) {
		t.Errorf("verify wrong password: %v, want ErrBadPassword", err)
	}
	if _, err := accts.Verify(ctx, "nobody", pw); !errors.Is(err, ErrNoAccount) {
		t.Errorf("verify unknown user: %v, want ErrNoAccount", err)
	}
	if _, err := accts.Verify(ctx, "Nguyễn Văn An", pw); !errors.Is(err, ErrNoAccount) {
		t.Errorf("verify malformed user name: %v, want ErrNoAccount", err)
	}

	steps := []struct {
		name    string
		do      func() (Account, error)
		version int
		check   func(Account) bool
	}{
		{"reset", func() (Account, error) {
			return accts.ResetPassword(ctx, "nguyen.van.an", "mật-khẩu-mới-đặt-lại", "cli")
		}, 2,
			func(Account) bool {
				_, err := accts.Verify(ctx, "nguyen.van.an", "mật-khẩu-mới-đặt-lại")
				return err == nil
			}},
		{"disable", func() (Account, error) { return accts.Disable(ctx, "nguyen.van.an", "cli") }, 3, func(a Account) bool { return a.Disabled }},
		{"disable again (no event)", func() (Account, error) { return accts.Disable(ctx, "nguyen.van.an", "cli") }, 3, func(a Account) bool { return a.Disabled }},
		{"enable", func() (Account, error) { return accts.Enable(ctx, "nguyen.van.an", "cli") }, 4, func(a Account) bool { return !a.Disabled }},
		{"role", func() (Account, error) {
			return accts.SetRole(ctx, "nguyen.van.an", RoleReviewer, "000.00.31.H30", "cli")
		}, 5,
			func(a Account) bool { return a.Role == RoleReviewer && a.Office == "000.00.31.H30" }},
		{"role, office kept", func() (Account, error) { return accts.SetRole(ctx, "nguyen.van.an", RoleSupervisor, "", "cli") }, 6,
			func(a Account) bool { return a.Role == RoleSupervisor && a.Office == "000.00.31.H30" }},
	}
	for i, st := range steps {
		clk.Add(time.Minute)
		got, err := st.do()
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if got.Version != st.version || !st.check(got) {
			t.Errorf("%s: got %+v (version %d), want version %d", st.name, got, got.Version, st.version)
		}
		if again, err := accts.Get(ctx, "nguyen.van.an"); err != nil || again.Version != got.Version || again.Role != got.Role || again.Disabled != got.Disabled {
			t.Errorf("%s: re-read %+v, %v; want what the change returned", st.name, again, err)
		}
		if n := len(ends.ended); n != i+1 || ends.ended[n-1] != acct.ID {
			t.Errorf("%s: sessions ended %v, want once more for %s", st.name, ends.ended, acct.ID)
		}
	}
	// A change that changes nothing leaves an active account's sessions.
	before := len(ends.ended)
	if a, err := accts.Enable(ctx, "nguyen.van.an", "cli"); err != nil || a.Version != 6 || len(ends.ended) != before {
		t.Errorf("enabling an enabled account: version %d, %v, sessions ended %d times more; want nothing", a.Version, err, len(ends.ended)-before)
	}
	if _, err := accts.Verify(ctx, "nguyen.van.an", pw); !errors.Is(err, ErrBadPassword) {
		t.Errorf("old password after reset: %v, want ErrBadPassword", err)
	}
	if _, err := accts.Disable(ctx, "nobody", "cli"); !errors.Is(err, ErrNoAccount) {
		t.Errorf("disable unknown: %v", err)
	}

	// Disabled, the right password says so; a wrong one does not.
	accts.Disable(ctx, "nguyen.van.an", "cli")
	if _, err := accts.Verify(ctx, "nguyen.van.an", "mật-khẩu-mới-đặt-lại"); !errors.Is(err, ErrDisabled) {
		t.Errorf("disabled, right password: %v, want ErrDisabled", err)
	}
	if _, err := accts.Verify(ctx, "nguyen.van.an", "sai"); !errors.Is(err, ErrBadPassword) {
		t.Errorf("disabled, wrong password: %v, want ErrBadPassword", err)
	}

	// At rest: one create-once object per event, keys of the grammar that
	// do not show the user name, bodies sealed (no name, no hash, no role).
	n := 0
	bucket.List(ctx, "", func(o storage.ObjectInfo) error {
		n++
		if err := storage.CheckKey(o.Key); err != nil || !strings.HasPrefix(o.Key, storage.StaffAccountPrefix(acct.ID)) {
			t.Errorf("key %s: %v", o.Key, err)
		}
		body, _, _ := bucket.Get(ctx, o.Key)
		for _, clear := range []string{"nguyen", "Nguyễn", "argon2", "counter", "reviewer", "password", "mật"} {
			if bytes.Contains(body, []byte(clear)) {
				t.Errorf("%s shows %q in clear", o.Key, clear)
			}
		}
		return nil
	})
	if n != 7 {
		t.Errorf("%d objects, want 7 events", n)
	}
	if s := fmt.Sprint(acct) + fmt.Sprintf("%v %+v", acct, acct); strings.Contains(s, "nguyen") || strings.Contains(s, "argon2") {
		t.Errorf("an Account prints its user name or hash: %s", s)
	}
}

func TestAccountValidation(t *testing.T) {
	ctx := context.Background()
	repo, _ := newRepo(t)
	accts := newAccounts(t, repo, nil, nil)
	for _, tc := range []struct {
		user, office, pw string
		role             Role
		want             error
	}{
		{"a", "000.00.31.H29", "đủ dài rồi đó nhé", RoleCounter, ErrBadUserName},
		{"nguyễn", "000.00.31.H29", "đủ dài rồi đó nhé", RoleCounter, ErrBadUserName},
		{"-dash", "000.00.31.H29", "đủ dài rồi đó nhé", RoleCounter, ErrBadUserName},
		{"ok.user", "H29", "đủ dài rồi đó nhé", RoleCounter, ErrBadOffice},
		{"ok.user", "000.00.31.H29", "đủ dài rồi đó nhé", Role("admin"), ErrBadRole},
		{"ok.user", "000.00.31.H29", "ngắn", RoleCounter, ErrWeakPassword},
	} {
		if _, err := accts.Create(ctx, tc.user, "", tc.role, tc.office, tc.pw, "cli"); !errors.Is(err, tc.want) {
			t.Errorf("Create(%q, %q, %q, %q) = %v, want %v", tc.user, tc.role, tc.office, tc.pw, err, tc.want)
		}
	}
	if _, err := accts.Create(ctx, "ok.user", "", RoleCounter, "000.00.31.H29", "đủ dài rồi đó nhé", "cli"); err != nil {
		t.Fatal(err)
	}
	if _, err := accts.ResetPassword(ctx, "ok.user", "ngắn", "cli"); !errors.Is(err, ErrWeakPassword) {
		t.Errorf("weak reset: %v", err)
	}
	if _, err := accts.SetRole(ctx, "ok.user", "boss", "", "cli"); !errors.Is(err, ErrBadRole) {
		t.Errorf("bad role: %v", err)
	}
}

// TestConcurrentChanges: writers racing on one account never lose an
// event: each lands at its own sequence number.
func TestConcurrentChanges(t *testing.T) {
	ctx := context.Background()
	repo, _ := newRepo(t)
	accts := newAccounts(t, repo, nil, nil)
	if _, err := accts.Create(ctx, "dua.nhau", "", RoleCounter, "000.00.31.H29", "mật khẩu ban đầu", "cli"); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := accts.ResetPassword(ctx, "dua.nhau", fmt.Sprintf("mật khẩu số %d mới", i), "cli")
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if a, err := accts.Get(ctx, "dua.nhau"); err != nil || a.Version != 5 {
		t.Errorf("after 4 concurrent resets: version %d, %v; want 5", a.Version, err)
	}
}

func TestListAccounts(t *testing.T) {
	ctx := context.Background()
	repo, _ := newRepo(t)
	accts := newAccounts(t, repo, nil, nil)
	for _, u := range []string{"c.user", "a.user", "b.user"} {
		if _, err := accts.Create(ctx, u, "", RoleReviewer, "000.00.31.H29", "mật khẩu đủ dài", "cli"); err != nil {
			t.Fatal(err)
		}
	}
	accts.Disable(ctx, "b.user", "cli")
	list, err := accts.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range list {
		got = append(got, fmt.Sprintf("%s:%v", a.User, a.Disabled))
	}
	if strings.Join(got, " ") != "a.user:false b.user:true c.user:false" {
		t.Errorf("List = %v", got)
	}
}

// TestSessionEndFailureIsReported: the change is stored, and the caller
// learns the sessions were not ended at once.
func TestSessionEndFailureIsReported(t *testing.T) {
	ctx := context.Background()
	repo, _ := newRepo(t)
	ends := &endRecorder{fail: errors.New("redis down")}
	accts := newAccounts(t, repo, ends, nil)
	accts.Create(ctx, "x.user", "", RoleCounter, "000.00.31.H29", "mật khẩu đủ dài", "cli")
	a, err := accts.Disable(ctx, "x.user", "cli")
	if err == nil || !strings.Contains(err.Error(), "sessions could not be ended") || !a.Disabled {
		t.Errorf("Disable with the store down = %+v, %v; want the account disabled and the error", a, err)
	}
	if a, _ := accts.Get(ctx, "x.user"); !a.Disabled {
		t.Error("the disable event was not stored")
	}
}
