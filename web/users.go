package web

// The staff accounts pages (supervisors): the accounts of the supervisor's
// own office, adding one, and on an account's page resetting its password,
// disabling, enabling and changing its role. They do what `sohoa user`
// does on the server, through the same Accounts: every change is a sealed
// event and ends the account's sessions.
//
// A supervisor manages the accounts of their own office only. Accounts of
// other offices are not listed (their user names and full names are
// personal data the supervisor has no need of; the list says how many
// there are); opening or changing one is refused with 403 and audited
// (rule user_other_office), and so is adding an account to another
// office. Accounts of other offices are made with `sohoa user` or by that
// office's supervisor.
//
// A generated password is shown once, in the body of the answer to the
// POST that set it (never in a URL, never logged or audited; pages are
// no-store). A supervisor cannot disable themself or change their own
// role (the office would be left without anyone to undo it).
//
// Stable hooks for browser tests:
//   - #users (table) has one tr[data-user=NAME] per account, with
//     data-account (ID), data-role (counter|reviewer|supervisor),
//     data-state (active|disabled); a[data-manage] opens its page;
//   - #add-user (form: user, name, role, office), errors in
//     .field-error[data-field=user|name|role|office] and #add-error;
//   - #account[data-account][data-state][data-role] on an account's page,
//     forms #reset-password, #disable, #enable, #set-role (field role),
//     each with a checkbox name=confirm where it asks; #user-done holds the
//     confirmation of the last change, #user-error a refusal;
//   - #new-password holds a generated password (answer page), with
//     data-account.

import (
	"errors"
	"net/http"
	"regexp"
	"strings"
	"time"
	"unicode"

	"sohoa/audit"
	"sohoa/storage"
)

// userRoutes registers the staff accounts pages.
func (a *App) userRoutes(mux *http.ServeMux) {
	sup := []Role{RoleSupervisor}
	mux.HandleFunc("GET /users", a.staff(sup, a.usersPage))
	mux.HandleFunc("POST /users", a.staff(sup, a.userCreate))
	mux.HandleFunc("GET /users/{account}", a.staff(sup, a.userPage))
	mux.HandleFunc("POST /users/{account}/{action}", a.staff(sup, a.userAction))
}

// userRow is an account as the pages show it.
type userRow struct {
	ID, User, Name, Office string
	Role                   Role
	RoleLabel              string
	Disabled               bool
	Created, Changed       string
	Self                   bool
}

func (a *App) userRow(acct Account, s *signedIn) userRow {
	return userRow{ID: acct.ID, User: acct.User, Name: acct.Name, Office: acct.Office, Role: acct.Role,
		RoleLabel: acct.Role.Label(), Disabled: acct.Disabled, Created: usersTime(acct.Created),
		Changed: usersTime(acct.Changed), Self: acct.ID == s.Account}
}

func usersTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(storage.Vietnam()).Format("15:04 02/01/2006")
}

type roleOption struct {
	Value    Role
	Label    string
	Selected bool
}

func roleOptions(selected Role) []roleOption {
	var out []roleOption
	for _, r := range Roles() {
		out = append(out, roleOption{r, r.Label(), r == selected})
	}
	return out
}

// addForm is what the add form was filled with.
type addForm struct {
	User, Name, Office string
	Role               Role
}

type usersView struct {
	Accounts []userRow
	Hidden   int // accounts of other offices, not shown
	Office   string
	Form     addForm
	Roles    []roleOption
	Errors   map[string]string // field -> Vietnamese text
	Error    string            // a refusal of the whole form
}

type userView struct {
	Acct  userRow
	Roles []roleOption
	Done  string
	Late  bool // the change was stored, its sessions end at their next check
	Error string
}

type passwordView struct {
	Acct     userRow
	Password string
	Created  bool // a new account (else a reset)
}

// usersPage lists the accounts of the supervisor's office.
func (a *App) usersPage(w http.ResponseWriter, r *http.Request, s *signedIn) {
	form := addForm{Office: s.Office, Role: RoleCounter}
	a.renderUsers(w, r, s, http.StatusOK, form, nil, "", "users_viewed")
}

// renderUsers shows the list with the add form as given; rule, when set,
// audits the view (a refused form was audited already).
func (a *App) renderUsers(w http.ResponseWriter, r *http.Request, s *signedIn, status int, form addForm, errs map[string]string, msg, rule string) {
	list, err := a.opts.Accounts.List(r.Context())
	if err != nil {
		a.unavailable(w, r, err)
		return
	}
	v := usersView{Office: s.Office, Form: form, Roles: roleOptions(form.Role), Errors: errs, Error: msg}
	for _, acct := range list {
		if acct.Office != s.Office {
			v.Hidden++
			continue
		}
		v.Accounts = append(v.Accounts, a.userRow(acct, s))
	}
	if rule != "" {
		if err := a.auditAction(r, s, status, rule, "office:"+s.Office); err != nil {
			a.unavailable(w, r, err)
			return
		}
	}
	a.render(w, status, "users", view{Title: "Tài khoản cán bộ", CSRF: s.CSRF, Staff: a.staffView(s), Data: v})
}

// userLongDigits: a full name with a run of digits this long may hold
// a citizen ID; it is refused.
var userLongDigits = regexp.MustCompile(`[0-9]{9,}`)

// maxFullName bounds a full name, in characters.
const maxFullName = 100

func cleanFullName(s string) (string, bool) {
	s = strings.Join(strings.Fields(s), " ")
	if len([]rune(s)) > maxFullName || userLongDigits.MatchString(s) {
		return s, false
	}
	for _, c := range s {
		if unicode.IsControl(c) {
			return s, false
		}
	}
	return s, true
}

// userCreate adds an account to the supervisor's office and shows its
// generated password once.
func (a *App) userCreate(w http.ResponseWriter, r *http.Request, s *signedIn) {
	ctx := r.Context()
	r.ParseForm() // parsed already unless the token came in the header
	form := addForm{User: strings.TrimSpace(r.PostForm.Get("user")), Name: r.PostForm.Get("name"),
		Role: Role(r.PostForm.Get("role")), Office: strings.TrimSpace(r.PostForm.Get("office"))}
	if form.Office == "" {
		form.Office = s.Office
	}
	target := a.opts.Accounts.ID(form.User)
	refuse := func(status int, rule string, errs map[string]string, msg string) {
		if err := a.auditDeny(r, s, status, rule, target); err != nil {
			a.unavailable(w, r, err)
			return
		}
		a.renderUsers(w, r, s, status, form, errs, msg, "")
	}
	errs := map[string]string{}
	user, err := NormalizeUserName(form.User)
	if err != nil {
		errs["user"] = userErrText(ErrBadUserName)
	} else {
		form.User = user
	}
	name, ok := cleanFullName(form.Name)
	form.Name = name
	if !ok {
		errs["name"] = "Họ và tên tối đa 100 ký tự, không chứa dãy từ 9 chữ số liền nhau trở lên."
		form.Name = ""
	}
	if !form.Role.Valid() {
		errs["role"] = userErrText(ErrBadRole)
		form.Role = RoleCounter
	}
	if !storage.ValidAgencyCode(form.Office) {
		errs["office"] = userErrText(ErrBadOffice)
	}
	if len(errs) > 0 {
		refuse(http.StatusBadRequest, "user_create_invalid", errs, "")
		return
	}
	if form.Office != s.Office {
		refuse(http.StatusForbidden, "user_other_office", map[string]string{"office": "Chỉ tạo được tài khoản cho đơn vị của mình (" + s.Office +
			"). Tài khoản của đơn vị khác do cán bộ quản lý của đơn vị đó hoặc quản trị hệ thống tạo."}, "")
		return
	}
	pw, err := GeneratePassword()
	if err != nil {
		a.unavailable(w, r, err)
		return
	}
	acct, err := a.opts.Accounts.Create(ctx, form.User, form.Name, form.Role, form.Office, pw, s.Account)
	switch {
	case errors.Is(err, ErrAccountExists):
		refuse(http.StatusConflict, "user_exists", map[string]string{"user": userErrText(ErrAccountExists)}, "")
		return
	case isUserInputErr(err):
		refuse(http.StatusBadRequest, "user_create_invalid", nil, userErrText(err))
		return
	case err != nil:
		a.unavailable(w, r, err)
		return
	}
	if err := a.auditAction(r, s, http.StatusOK, "user_created", acct.ID); err != nil {
		a.unavailable(w, r, err)
		return
	}
	a.render(w, http.StatusOK, "user_password", view{Title: "Đã tạo tài khoản", CSRF: s.CSRF, Staff: a.staffView(s),
		Data: passwordView{Acct: a.userRow(acct, s), Password: pw, Created: true}})
}

// auditDeny records a refused action on an account.
func (a *App) auditDeny(r *http.Request, s *signedIn, status int, rule, target string) error {
	rec := a.record(r, a.now(), s.Account, s.Role, s.Office)
	rec.AuthMethod = "session"
	rec.Decision, rec.Rule, rec.Status, rec.Target = audit.Deny, rule, status, target
	return a.audit(r.Context(), rec)
}

// managed reads the account of the path for a change or a view by the
// supervisor s: 404 for no account, 403 (audited) for another office's.
// On false the answer is sent.
func (a *App) managed(w http.ResponseWriter, r *http.Request, s *signedIn) (Account, bool) {
	id := r.PathValue("account")
	acct, err := a.opts.Accounts.ByID(r.Context(), id)
	switch {
	case errors.Is(err, ErrNoAccount):
		a.fail(w, r, http.StatusNotFound, "Không tìm thấy tài khoản", "Không có tài khoản cán bộ này. Hãy mở lại danh sách tài khoản.")
		return Account{}, false
	case err != nil:
		a.unavailable(w, r, err)
		return Account{}, false
	case acct.Office != s.Office:
		if err := a.auditDeny(r, s, http.StatusForbidden, "user_other_office", acct.ID); err != nil {
			a.unavailable(w, r, err)
			return Account{}, false
		}
		a.fail(w, r, http.StatusForbidden, "Không có quyền quản lý tài khoản này",
			"Tài khoản này thuộc đơn vị khác. Cán bộ quản lý chỉ quản lý tài khoản của đơn vị mình ("+s.Office+").")
		return Account{}, false
	}
	return acct, true
}

// userDone are the confirmations of a change (?done=).
var userDone = map[string]string{
	"disabled":  "Đã khóa tài khoản. Tài khoản không đăng nhập được nữa; các phiên đang mở của tài khoản đã kết thúc.",
	"enabled":   "Đã mở khóa tài khoản. Cán bộ đăng nhập lại bằng mật khẩu hiện có.",
	"role":      "Đã đổi vai trò. Cán bộ cần đăng nhập lại; các phiên đang mở của tài khoản đã kết thúc.",
	"unchanged": "Không có gì thay đổi: tài khoản đã ở trạng thái này.",
}

// userPage is an account's page with its actions.
func (a *App) userPage(w http.ResponseWriter, r *http.Request, s *signedIn) {
	acct, ok := a.managed(w, r, s)
	if !ok {
		return
	}
	v := userView{Acct: a.userRow(acct, s), Roles: roleOptions(acct.Role), Done: userDone[r.URL.Query().Get("done")],
		Late: r.URL.Query().Get("late") == "1"}
	a.showUser(w, r, s, http.StatusOK, v, "user_viewed")
}

func (a *App) showUser(w http.ResponseWriter, r *http.Request, s *signedIn, status int, v userView, rule string) {
	if rule != "" {
		if err := a.auditAction(r, s, status, rule, v.Acct.ID); err != nil {
			a.unavailable(w, r, err)
			return
		}
	}
	title := "Tài khoản " + v.Acct.User
	a.render(w, status, "user", view{Title: title, CSRF: s.CSRF, Staff: a.staffView(s), Data: v})
}

// userAction resets the password of, disables, enables or changes the
// role of an account of the supervisor's office.
func (a *App) userAction(w http.ResponseWriter, r *http.Request, s *signedIn) {
	action := r.PathValue("action")
	rules := map[string]string{"reset": "user_password_reset", "disable": "user_disabled", "enable": "user_enabled", "role": "user_role_changed"}
	rule, known := rules[action]
	if !known {
		a.fail(w, r, http.StatusNotFound, "Không tìm thấy trang", "Địa chỉ này không có trong hệ thống.")
		return
	}
	acct, ok := a.managed(w, r, s)
	if !ok {
		return
	}
	ctx := r.Context()
	r.ParseForm()
	self := acct.ID == s.Account
	refuse := func(status int, why, text string) {
		if err := a.auditDeny(r, s, status, "user_"+action+"_refused_"+why, acct.ID); err != nil {
			a.unavailable(w, r, err)
			return
		}
		a.showUser(w, r, s, status, userView{Acct: a.userRow(acct, s), Roles: roleOptions(acct.Role), Error: text}, "")
	}
	confirmed := r.PostForm.Get("confirm") == "yes"
	by := s.Account
	var (
		changed Account
		err     error
		done    string
	)
	switch action {
	case "reset":
		if !confirmed {
			refuse(http.StatusBadRequest, "unconfirmed", "Hãy đánh dấu ô xác nhận trước khi đặt lại mật khẩu: mật khẩu cũ sẽ không dùng được nữa.")
			return
		}
		pw, gerr := GeneratePassword()
		if gerr != nil {
			a.unavailable(w, r, gerr)
			return
		}
		changed, err = a.opts.Accounts.ResetPassword(ctx, acct.User, pw, by)
		if changed.ID == "" {
			a.userChangeFailed(w, r, err, refuse)
			return
		}
		if err != nil {
			a.log.Warn("web: staff account changed, its sessions end at their next check", "account", changed.ID, "err", err)
		}
		if aerr := a.auditAction(r, s, http.StatusOK, rule, changed.ID); aerr != nil {
			a.unavailable(w, r, aerr)
			return
		}
		a.render(w, http.StatusOK, "user_password", view{Title: "Đã đặt lại mật khẩu", CSRF: s.CSRF, Staff: a.staffView(s),
			Data: passwordView{Acct: a.userRow(changed, s), Password: pw}})
		return
	case "disable":
		if self {
			refuse(http.StatusConflict, "self", "Bạn không thể tự khóa tài khoản của chính mình. Nếu cần, hãy đề nghị quản trị hệ thống thực hiện.")
			return
		}
		if !confirmed {
			refuse(http.StatusBadRequest, "unconfirmed", "Hãy đánh dấu ô xác nhận trước khi khóa tài khoản.")
			return
		}
		changed, err = a.opts.Accounts.Disable(ctx, acct.User, by)
		done = "disabled"
	case "enable":
		changed, err = a.opts.Accounts.Enable(ctx, acct.User, by)
		done = "enabled"
	case "role":
		role := Role(r.PostForm.Get("role"))
		if !role.Valid() {
			refuse(http.StatusBadRequest, "invalid", userErrText(ErrBadRole))
			return
		}
		if self && role != acct.Role {
			refuse(http.StatusConflict, "self", "Bạn không thể tự đổi vai trò của chính mình. Nếu cần, hãy đề nghị quản trị hệ thống thực hiện.")
			return
		}
		changed, err = a.opts.Accounts.SetRole(ctx, acct.User, role, "", by)
		done = "role"
	}
	if changed.ID == "" {
		a.userChangeFailed(w, r, err, refuse)
		return
	}
	if changed.Version == acct.Version {
		done = "unchanged"
	}
	loc := "/users/" + changed.ID + "?done=" + done
	if err != nil {
		a.log.Warn("web: staff account changed, its sessions end at their next check", "account", changed.ID, "err", err)
		loc += "&late=1"
	}
	if aerr := a.auditAction(r, s, http.StatusSeeOther, rule, changed.ID); aerr != nil {
		a.unavailable(w, r, aerr)
		return
	}
	http.Redirect(w, r, loc, http.StatusSeeOther)
}

// userChangeFailed answers a change Accounts refused or could not store.
func (a *App) userChangeFailed(w http.ResponseWriter, r *http.Request, err error, refuse func(int, string, string)) {
	switch {
	case errors.Is(err, ErrNoAccount):
		a.fail(w, r, http.StatusNotFound, "Không tìm thấy tài khoản", "Không có tài khoản cán bộ này. Hãy mở lại danh sách tài khoản.")
	case isUserInputErr(err):
		refuse(http.StatusBadRequest, "invalid", userErrText(err))
	default:
		a.unavailable(w, r, err)
	}
}

func isUserInputErr(err error) bool {
	for _, e := range []error{ErrBadUserName, ErrAccountExists, ErrBadRole, ErrBadOffice, ErrWeakPassword} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// userErrText says an error of Accounts in Vietnamese.
func userErrText(err error) string {
	switch {
	case errors.Is(err, ErrBadUserName):
		return "Tên đăng nhập dài 2–64 ký tự, chỉ gồm chữ thường không dấu (a–z), chữ số và các dấu . _ @ -, bắt đầu bằng chữ hoặc chữ số. Ví dụ: nguyen.van.a"
	case errors.Is(err, ErrAccountExists):
		return "Tên đăng nhập này đã có người dùng. Hãy chọn tên khác (ví dụ thêm chữ cái đầu của tên đệm)."
	case errors.Is(err, ErrBadRole):
		return "Hãy chọn vai trò trong danh sách: cán bộ tiếp nhận, cán bộ kiểm tra hoặc cán bộ quản lý."
	case errors.Is(err, ErrBadOffice):
		return "Mã đơn vị là mã định danh cơ quan gồm 13 ký tự, ví dụ 000.00.31.H29."
	case errors.Is(err, ErrWeakPassword):
		return "Mật khẩu phải có từ 12 ký tự trở lên."
	case errors.Is(err, ErrNoAccount):
		return "Không có tài khoản cán bộ này."
	}
	return "Không thực hiện được thay đổi. Hãy thử lại."
}
