package web

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// DevUser is one development sign-in.
type DevUser struct {
	Role           Role
	User, Password string
}

// devUsers are the development accounts, one per role.
func devUsers() []DevUser {
	return []DevUser{{Role: RoleCounter, User: "dev-counter"}, {Role: RoleReviewer, User: "dev-reviewer"}, {Role: RoleSupervisor, User: "dev-supervisor"}}
}

// EnsureDevUsers makes, for development mode only, one account per role
// in office, with random passwords kept in the file at path (mode 0600,
// created once, never overwritten): "role user password" lines. Accounts
// missing from the repository are created from the file; one whose
// password no longer matches it is reset to it. It returns the sign-ins.
func EnsureDevUsers(ctx context.Context, accts *Accounts, path, office string) ([]DevUser, error) {
	users, err := readDevUsers(path)
	if errors.Is(err, fs.ErrNotExist) {
		users, err = writeDevUsers(path)
	}
	if err != nil {
		return nil, fmt.Errorf("development users: %w", err)
	}
	for _, u := range users {
		_, err := accts.Verify(ctx, u.User, u.Password)
		switch {
		case err == nil, errors.Is(err, ErrDisabled):
		case errors.Is(err, ErrNoAccount):
			if _, err := accts.Create(ctx, u.User, "", u.Role, office, u.Password, "dev"); err != nil && !errors.Is(err, ErrAccountExists) {
				return nil, fmt.Errorf("development user %s: %w", u.User, err)
			}
		case errors.Is(err, ErrBadPassword):
			if _, err := accts.ResetPassword(ctx, u.User, u.Password, "dev"); err != nil {
				return nil, fmt.Errorf("development user %s: %w", u.User, err)
			}
		default:
			return nil, fmt.Errorf("development user %s: %w", u.User, err)
		}
	}
	return users, nil
}

const devUsersHeader = "# sohoa development sign-ins (development mode only): role, user name, password\n"

func writeDevUsers(path string) ([]DevUser, error) {
	users := devUsers()
	var b strings.Builder
	b.WriteString(devUsersHeader)
	for i := range users {
		pw, err := GeneratePassword()
		if err != nil {
			return nil, err
		}
		users[i].Password = pw
		fmt.Fprintf(&b, "%-10s %-14s %s\n", users[i].Role, users[i].User, pw)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return readDevUsers(path) // another process made it first
	}
	if err != nil {
		return nil, err
	}
	_, err = f.WriteString(b.String())
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return users, err
}

func readDevUsers(path string) ([]DevUser, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var users []DevUser
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fs := strings.Fields(line)
		if len(fs) != 3 || !Role(fs[0]).Valid() {
			return nil, fmt.Errorf("%s: malformed line (want: role user password)", path)
		}
		users = append(users, DevUser{Role: Role(fs[0]), User: fs[1], Password: fs[2]})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(users) == 0 {
		return nil, fmt.Errorf("%s: no users (still being written?)", path)
	}
	return users, nil
}
